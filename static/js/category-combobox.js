// The policy category as a type-to-filter combobox (ARIA 1.2 editable combobox with list
// autocomplete: an input and a listbox; arrows move, Enter picks, Escape closes).
//
// The server renders a plain <select id="category" name="category">: it works without
// script, it is the field the form submits, and it is what other scripts watch (policy.js
// listens to its change event; drafts.js saves and restores its value). This script puts an
// input and a listbox before it and hides it; picking an option sets the select and fires
// its change event. With the query empty the list starts with the suggestions (the model's
// likeliest categories, or the team's most used); the first five entries of the list are
// numbered, and while the box has focus the digits 1-5 pick them (unless the reviewer
// turned single-key shortcuts off: then digits are only typed).
(function () {
  "use strict";
  const NUMBERED = 5;
  let counter = 0;

  function shortcutsOn() {
    try {
      return Boolean(JSON.parse(document.getElementById("shortcuts").textContent).enabled);
    } catch {
      return false;
    }
  }

  function enhance(select) {
    if (select.dataset.enhanced) return;
    select.dataset.enhanced = "true";
    const n = ++counter;
    const label = document.querySelector(`label[for="${select.id}"]`);
    const input = document.createElement("input");
    input.type = "text";
    input.id = "category-input";
    input.className = "combobox-input";
    input.autocomplete = "off";
    input.spellcheck = false;
    input.placeholder = "Type to filter";
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    const list = document.createElement("ul");
    list.id = `category-listbox-${n}`;
    list.className = "combobox-list";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    input.setAttribute("aria-controls", list.id);
    if (label) {
      label.htmlFor = input.id;
      if (label.id) list.setAttribute("aria-labelledby", label.id);
    }
    for (const name of ["aria-invalid", "aria-describedby"]) {
      if (select.hasAttribute(name)) input.setAttribute(name, select.getAttribute(name));
    }
    const hint = document.createElement("span");
    hint.id = `category-hint-${n}`;
    hint.className = "visually-hidden";
    hint.textContent = shortcutsOn()
      ? "Type to filter the categories; digits 1 to 5 pick a numbered entry."
      : "Type to filter the categories; arrow keys move through them.";
    input.setAttribute("aria-describedby", [input.getAttribute("aria-describedby"), hint.id].filter(Boolean).join(" "));
    select.classList.add("enhanced");
    select.setAttribute("aria-hidden", "true");
    select.tabIndex = -1;
    select.before(input, list, hint);

    const suggested = Array.from(document.querySelectorAll("#category-suggestions [data-slug]")).map((b) => b.dataset.slug);
    const options = Array.from(select.options).filter((o) => o.value);
    let shown = [];
    let active = -1;

    function textOf(value) {
      const option = options.find((o) => o.value === value);
      return option ? option.textContent.trim() : "";
    }

    function sync() {
      input.value = textOf(select.value);
    }

    function matches(query) {
      const q = query.trim().toLowerCase();
      if (!q) {
        const first = suggested.map((slug) => options.find((o) => o.value === slug)).filter(Boolean);
        return first.concat(options.filter((o) => !first.includes(o)));
      }
      return options.filter((o) => o.textContent.toLowerCase().includes(q) || o.value.includes(q));
    }

    function render(query) {
      shown = matches(query);
      list.replaceChildren(...shown.map((option, i) => {
        const item = document.createElement("li");
        item.id = `${list.id}-${option.value}`;
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", option.value === select.value ? "true" : "false");
        item.dataset.value = option.value;
        if (i < NUMBERED && shortcutsOn()) {
          const kbd = document.createElement("kbd");
          kbd.textContent = String(i + 1);
          item.append(kbd, " ");
        }
        item.append(option.textContent.trim());
        return item;
      }));
      if (shown.length === 0) {
        const none = document.createElement("li");
        none.className = "muted";
        none.textContent = "No category matches.";
        list.append(none);
      }
      setActive(-1);
    }

    function open(query) {
      render(query);
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function setActive(index) {
      active = index;
      Array.from(list.children).forEach((li, i) => li.classList.toggle("active", i === index));
      const item = list.children[index];
      if (item && item.id) {
        input.setAttribute("aria-activedescendant", item.id);
        item.scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function pick(value) {
      if (select.value !== value) {
        select.value = value;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
      sync();
      close();
    }

    input.addEventListener("input", () => open(input.value));
    input.addEventListener("keydown", (event) => {
      const isOpen = !list.hidden;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (!isOpen) open(input.value === textOf(select.value) ? "" : input.value);
        if (event.altKey) return;
        const step = event.key === "ArrowDown" ? 1 : -1;
        const last = shown.length - 1;
        setActive(active < 0 ? (step > 0 ? 0 : last) : Math.min(last, Math.max(0, active + step)));
      } else if (event.key === "Enter" && !event.ctrlKey && !event.metaKey) {
        if (!isOpen) return; // closed: Enter submits the form, as in any text box
        event.preventDefault();
        const choice = shown[active] || (shown.length === 1 ? shown[0] : null);
        if (choice) pick(choice.value);
        else close();
      } else if (event.key === "Escape" && isOpen) {
        event.preventDefault(); // close the list; a second Escape leaves the field
        sync();
        close();
      } else if (/^[1-9]$/.test(event.key) && !event.altKey && !event.ctrlKey && !event.metaKey && shortcutsOn()) {
        const list_ = isOpen ? shown : matches(input.value === textOf(select.value) ? "" : input.value);
        const choice = Number(event.key) <= NUMBERED ? list_[Number(event.key) - 1] : null;
        event.preventDefault();
        if (choice) pick(choice.value);
      } else if (event.key === "Tab" && isOpen && active >= 0) {
        pick(shown[active].value); // Tab accepts the highlighted entry and moves on
      }
    });
    input.addEventListener("focus", () => input.select());
    input.addEventListener("blur", () => {
      if (input.value.trim() === "" && select.value) pick("");
      else sync();
      close();
    });
    // A click on an entry must not blur the input first.
    list.addEventListener("mousedown", (event) => event.preventDefault());
    list.addEventListener("click", (event) => {
      const item = event.target.closest("[role=option]");
      if (item) pick(item.dataset.value);
    });
    select.addEventListener("change", sync);
    select.addEventListener("input", sync);
    document.querySelectorAll("#category-suggestions [data-slug]").forEach((button) => {
      button.addEventListener("click", () => pick(button.dataset.slug));
    });
    sync();
    if (document.activeElement === select) input.focus();
  }

  function scan(root) {
    const selects = root.querySelectorAll ? Array.from(root.querySelectorAll("select#category")) : [];
    if (root.matches && root.matches("select#category")) selects.push(root);
    selects.forEach(enhance);
  }

  // htmx fires htmx:load on the body once it has started, and on each piece it swaps in;
  // drafts.js restores a draft on the same event, before this runs (script order).
  document.addEventListener("htmx:load", (event) => {
    scan(event.detail.elt);
    const select = document.getElementById("category");
    if (select && select.dataset.enhanced) select.dispatchEvent(new Event("input"));
  });
})();
