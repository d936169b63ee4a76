// Keyboard-first review: every action on the screen has a key, shown beside it.
(function () {
  "use strict";
  const DECISIONS = { "1": "supportable", "2": "restricted", "3": "prohibited", "4": "unsure" };

  function inField(target) {
    return target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" || target.tagName === "SELECT");
  }

  function chooseDecision(value) {
    const radio = document.querySelector(`input[name="decision"][value="${value}"]`);
    if (!radio) return;
    radio.checked = true;
    const category = document.getElementById("category");
    if (category && value === "supportable") category.value = "none";
    if (category && value !== "supportable" && category.value === "none") category.value = "";
  }

  function submit(formId) {
    const form = document.getElementById(formId);
    if (form) form.requestSubmit();
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit("label-form");
      return;
    }
    if (event.key === "Escape" && inField(event.target)) {
      event.target.blur();
      return;
    }
    if (inField(event.target) || event.altKey || event.ctrlKey || event.metaKey) return;
    const key = event.key.toLowerCase();
    if (key === "n") {
      const next = document.getElementById("claim-next");
      if (next) { event.preventDefault(); next.click(); }
    } else if (DECISIONS[key]) {
      event.preventDefault();
      chooseDecision(DECISIONS[key]);
    } else if (key === "c") {
      event.preventDefault();
      document.getElementById("category")?.focus();
    } else if (key === "r") {
      event.preventDefault();
      document.getElementById("rationale")?.focus();
    } else if (key === "s") {
      event.preventDefault();
      submit("skip-form");
    }
  });

  // htmx keeps focus on an element whose id survives a swap (the rationale box); a fresh
  // merchant should start with the keys free, so let go of it.
  document.body.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.target && event.detail.target.id === "workspace" && document.activeElement) {
      document.activeElement.blur();
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target && event.target.name === "decision") chooseDecision(event.target.value);
  });
})();
