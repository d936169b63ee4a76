// The lead's screens, keyboard-first like the analyst's: every action has a key shown
// beside it. Keys act only when no text field has the focus (Esc leaves a field).
(function () {
  "use strict";
  const DECISIONS = { s: "supportable", r: "restricted", p: "prohibited" };
  const WORK_KEYS = { n: "claim-adjudicate", f: "claim-signoff", a: "claim-audit" };

  function inField(target) {
    return target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" || target.tagName === "SELECT");
  }

  function check(name, value) {
    const radio = document.querySelector(`input[name="${name}"][value="${value}"]`);
    if (radio) radio.checked = true;
    return Boolean(radio);
  }

  function chooseDecision(value) {
    if (!check("decision", value)) return;
    check("verdict", "overturn");
    const category = document.getElementById("category");
    if (category && value === "supportable") category.value = "none";
    if (category && value !== "supportable" && category.value === "none") category.value = "";
    const upheld = document.getElementById("upheld_label");
    if (upheld) upheld.value = "";
  }

  let upholding = false;

  function uphold(number) {
    const card = document.getElementById(`label-${number}`);
    const upheld = document.getElementById("upheld_label");
    if (!card || !upheld) return false;
    upholding = true;
    check("decision", card.dataset.decision);
    const category = document.getElementById("category");
    if (category) category.value = card.dataset.category;
    upholding = false;
    upheld.value = card.dataset.label;
    document.querySelectorAll(".label-card").forEach((c) => c.classList.toggle("upheld", c === card));
    document.getElementById("rationale")?.focus();
    return true;
  }

  function click(id) {
    const element = document.getElementById(id);
    if (element) element.click();
    return Boolean(element);
  }

  // Choosing a decision or category by hand (mouse or keys) means the lead is no longer
  // upholding a label as it stands: forget which one, so the record stays true.
  document.addEventListener("change", function (event) {
    const name = event.target && event.target.name;
    if (name !== "decision" && name !== "category") return;
    const upheld = document.getElementById("upheld_label");
    if (upheld && !upholding) upheld.value = "";
    if (upheld && !upholding) document.querySelectorAll(".label-card").forEach((c) => c.classList.remove("upheld"));
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      const form = document.getElementById("decide-form");
      if (form) { event.preventDefault(); form.requestSubmit(); }
      return;
    }
    if (event.key === "Escape" && inField(event.target)) {
      event.target.blur();
      return;
    }
    if (inField(event.target) || event.altKey || event.ctrlKey || event.metaKey) return;
    const key = event.key.toLowerCase();
    const onItem = Boolean(document.getElementById("decide-form"));
    let handled = false;
    if (!onItem && WORK_KEYS[key]) {
      handled = click(WORK_KEYS[key]);
    } else if (onItem && /^[1-9]$/.test(key)) {
      handled = uphold(key);
    } else if (onItem && DECISIONS[key]) {
      chooseDecision(DECISIONS[key]);
      handled = true;
    } else if (onItem && key === "a") {
      handled = check("verdict", "agree") || check("verdict", "approve");
    } else if (onItem && key === "o") {
      handled = check("verdict", "overturn");
    } else if (onItem && key === "x") {
      handled = check("verdict", "refuse");
      document.getElementById("note")?.focus();
    } else if (onItem && key === "c") {
      document.getElementById("category")?.focus();
      handled = true;
    } else if (onItem && key === "w") {
      (document.getElementById("rationale") || document.getElementById("note"))?.focus();
      handled = true;
    } else if (onItem && key === "t") {
      const box = document.getElementById("not_for_training");
      if (box) { box.checked = !box.checked; if (box.checked) document.getElementById("training_note")?.focus(); }
      handled = Boolean(box);
    } else if (onItem && key === "k") {
      handled = click("release");
    }
    if (handled) event.preventDefault();
  });
})();
