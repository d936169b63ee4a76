// Keyboard-first review: every action on the screen has a key, shown beside it. The keys
// are the reviewer's own (the json_script "shortcuts": {enabled, keymap}, set on
// /queue/settings/); with single-key shortcuts off (WCAG 2.1.4) no single key does anything
// outside a field, and only Ctrl+Enter (submit) stays. Also here: the category combobox
// (category-combobox.js), the undo countdown, errors announced and focused.
(function () {
  "use strict";
  const DECISIONS = ["supportable", "restricted", "prohibited", "unsure"];

  function readShortcuts() {
    const node = document.getElementById("shortcuts");
    try {
      const data = node ? JSON.parse(node.textContent) : null;
      if (data && typeof data.keymap === "object") return data;
    } catch {
      // a broken config turns the single keys off rather than guessing them
    }
    return { enabled: false, keymap: {} };
  }

  const shortcuts = readShortcuts();
  const actionOf = {};
  for (const [action, key] of Object.entries(shortcuts.keymap)) actionOf[key] = action;

  function inField(target) {
    return Boolean(target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" || target.tagName === "SELECT" || target.isContentEditable));
  }

  function chooseDecision(value) {
    const radio = document.querySelector(`input[name="decision"][value="${value}"]`);
    if (!radio) return;
    radio.checked = true;
    const category = document.getElementById("category");
    if (!category) return;
    const before = category.value;
    if (value === "supportable") category.value = "none";
    if (value !== "supportable" && category.value === "none") category.value = "";
    if (category.value !== before) category.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function submit(formId) {
    const form = document.getElementById(formId);
    if (form) form.requestSubmit();
  }

  const ACTIONS = {
    next() {
      const next = document.getElementById("claim-next") || document.getElementById("take-over");
      if (next) next.click();
    },
    category() {
      const box = document.getElementById("category-input") || document.getElementById("category");
      if (box) { box.focus(); if (box.select) box.select(); }
    },
    rationale() { document.getElementById("rationale")?.focus(); },
    skip() { submit("skip-form"); },
    undo() { submit("undo-form"); },
  };
  for (const value of DECISIONS) ACTIONS[value] = () => chooseDecision(value);

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented) return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit("label-form");
      return;
    }
    if (event.key === "Escape" && inField(event.target)) {
      event.target.blur();
      return;
    }
    if (!shortcuts.enabled || inField(event.target) || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key.length !== 1) return;
    const action = actionOf[event.key.toLowerCase()];
    if (!action || !ACTIONS[action]) return;
    event.preventDefault();
    ACTIONS[action]();
  });

  document.addEventListener("change", function (event) {
    if (event.target && event.target.name === "decision") chooseDecision(event.target.value);
  });

  // The claim button of the empty screen is drawn with the default key: show the user's.
  function showOwnKeys(root) {
    const kbd = root.querySelector ? root.querySelector("#claim-next kbd") : null;
    if (!kbd) return;
    if (shortcuts.enabled && shortcuts.keymap.next) kbd.textContent = shortcuts.keymap.next.toUpperCase();
    else kbd.remove();
  }

  // Undo: a countdown on the button, and the bar goes when the time is up. The server says
  // how many seconds were left when it answered, so the browser's clock does not matter.
  let undoTimer = null;
  function startUndo() {
    const form = document.getElementById("undo-form");
    if (undoTimer) { clearInterval(undoTimer); undoTimer = null; }
    if (!form) return;
    const deadline = Date.now() + Number(form.dataset.seconds || 0) * 1000;
    const label = document.getElementById("undo-countdown");
    function tick() {
      const left = Math.ceil((deadline - Date.now()) / 1000);
      if (left <= 0 || !form.isConnected) {
        clearInterval(undoTimer);
        undoTimer = null;
        if (form.isConnected) form.remove();
        return;
      }
      if (label) label.textContent = `${left} s left`;
    }
    tick();
    undoTimer = setInterval(tick, 1000);
  }

  function announce(id, text) {
    const region = document.getElementById(id);
    if (!region || !text) return;
    region.textContent = "";
    // A fresh text node after a tick, so the same words twice are announced twice.
    setTimeout(() => { region.textContent = text; }, 50);
  }

  // After a swap: errors announced and the first invalid field focused; otherwise the keys
  // are free (htmx keeps focus on an element whose id survives a swap, like the rationale).
  function settle() {
    const invalid = document.querySelector('#label-form [aria-invalid="true"]');
    if (invalid) {
      const errors = Array.from(document.querySelectorAll("#label-form .field-error")).map((p) => p.textContent.trim());
      announce("announce-alert", `Not saved. ${errors.join(" ")}`);
      const target = invalid.id === "category" ? document.getElementById("category-input") || invalid : invalid;
      target.focus();
      return;
    }
    const notice = document.querySelector("#workspace .notice");
    if (notice) announce("announce-polite", notice.textContent.trim());
    if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
  }

  document.body.addEventListener("htmx:afterSettle", function (event) {
    startUndo();
    if (event.detail.target && event.detail.target.id === "workspace") {
      showOwnKeys(event.detail.target);
      settle();
    }
  });

  showOwnKeys(document);
  startUndo();
  const firstInvalid = document.querySelector('#label-form [aria-invalid="true"]');
  if (firstInvalid) settle();
})();
