// Drafts: what the analyst or lead has chosen and typed about an item, kept in this tab
// (sessionStorage) until the server takes it, so that a reload, a dropped connection or a
// log-in after the session lapsed gives it back.
//
// <section data-draft="KEY" data-draft-fields="decision category rationale"> holds one
// item's form; KEY names the user, the screen and the item, so a draft only ever comes
// back into the same item's form for the same user. It is saved on every change, restored
// whenever that form is rendered (a full page or an htmx swap), and forgotten when the
// server says the item is done (the itemDone event of labeling/fragments.py: labelled,
// decided, skipped, released) or after MAX_AGE_MS.
(function () {
  "use strict";
  const PREFIX = "draft:";
  const MAX_AGE_MS = 12 * 60 * 60 * 1000;

  function storage() {
    try {
      return window.sessionStorage;
    } catch {
      return null; // storage disabled: no drafts, nothing else changes
    }
  }

  function fieldsOf(box) {
    return (box.dataset.draftFields || "").split(/\s+/).filter(Boolean);
  }

  function valueOf(box, name) {
    const inputs = Array.from(box.querySelectorAll(`[name="${name}"]`));
    if (inputs.length === 0) return undefined;
    if (inputs[0].type === "radio") return inputs.find((input) => input.checked)?.value || "";
    if (inputs[0].type === "checkbox") return inputs[0].checked;
    return inputs[0].value;
  }

  function setValue(box, name, value) {
    const inputs = Array.from(box.querySelectorAll(`[name="${name}"]`));
    if (inputs.length === 0) return;
    if (inputs[0].type === "radio") {
      inputs.forEach((input) => { input.checked = input.value === value; });
    } else if (inputs[0].type === "checkbox") {
      inputs[0].checked = value === true;
    } else if (inputs[0].tagName !== "SELECT" || Array.from(inputs[0].options).some((o) => o.value === value)) {
      inputs[0].value = value;
    }
  }

  function save(box) {
    const store = storage();
    if (!store) return;
    const values = {};
    let typed = false;
    for (const name of fieldsOf(box)) {
      const value = valueOf(box, name);
      if (value === undefined) continue;
      values[name] = value;
      typed = typed || Boolean(value);
    }
    try {
      if (typed) store.setItem(PREFIX + box.dataset.draft, JSON.stringify({ saved: Date.now(), values }));
      else store.removeItem(PREFIX + box.dataset.draft);
    } catch {
      // full storage: the draft is not kept, the form still works
    }
  }

  function read(store, key) {
    try {
      const draft = JSON.parse(store.getItem(key));
      return draft && draft.values && Date.now() - draft.saved < MAX_AGE_MS ? draft : null;
    } catch {
      return null;
    }
  }

  function restore(box) {
    const store = storage();
    const draft = store && read(store, PREFIX + box.dataset.draft);
    if (!draft) return;
    for (const name of fieldsOf(box)) {
      if (Object.hasOwn(draft.values, name)) setValue(box, name, draft.values[name]);
    }
  }

  function forget(box) {
    const store = storage();
    if (store) store.removeItem(PREFIX + box.dataset.draft);
    // The form may stay on screen a moment longer (the lead's page navigates away): keys
    // released meanwhile must not save it again.
    box.removeAttribute("data-draft");
  }

  function sweep() {
    const store = storage();
    if (!store) return;
    for (let i = store.length - 1; i >= 0; i--) {
      const key = store.key(i);
      if (key && key.startsWith(PREFIX) && !read(store, key)) store.removeItem(key);
    }
  }

  function boxesIn(root) {
    const boxes = Array.from(root.querySelectorAll ? root.querySelectorAll("[data-draft]") : []);
    if (root.matches && root.matches("[data-draft]")) boxes.unshift(root);
    return boxes;
  }

  // htmx fires htmx:load on the body once it has started, and on each piece it swaps in.
  document.addEventListener("htmx:load", function (event) {
    boxesIn(event.detail.elt).forEach(restore);
  });

  // Keyboard shortcuts set radios and selects from script, which fires no input event:
  // after any key, as after any input, save every draft on the page (there is one).
  function saveAll() {
    boxesIn(document).forEach(save);
  }
  document.addEventListener("input", saveAll);
  document.addEventListener("change", saveAll);
  document.addEventListener("keyup", saveAll);

  document.addEventListener("itemDone", function (event) {
    const box = event.target.closest && event.target.closest("[data-draft]");
    if (box) forget(box);
  });

  sweep();
})();
