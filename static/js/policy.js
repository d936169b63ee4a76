// The review screen's evidence side (labeling/_item.html):
// - the policy text of the category the analyst picks, shown beside the form: every
//   assignable category's text is on the page, hidden; the one whose data-category is
//   #category's value is shown when #category fires change (or input);
// - the header's lease clock: each heartbeat that answers 204 extended the lease by
//   data-lease-seconds; the time is shown in the analyst's own time zone.
(function () {
  "use strict";

  function showPolicy(slug) {
    const panel = document.getElementById("policy-picked");
    if (!panel) return;
    let found = false;
    panel.querySelectorAll(".policy-option").forEach(function (option) {
      const match = Boolean(slug) && option.dataset.category === slug;
      option.hidden = !match;
      found = found || match;
    });
    const none = document.getElementById("policy-picked-none");
    if (none) none.hidden = found;
  }

  function showLeaseUntil(until) {
    const clock = document.getElementById("lease-until");
    if (!clock || Number.isNaN(until.getTime())) return;
    clock.setAttribute("datetime", until.toISOString());
    clock.textContent = until.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function sync() {
    const category = document.getElementById("category");
    if (category) showPolicy(category.value);
    const clock = document.getElementById("lease-until");
    if (clock) showLeaseUntil(new Date(clock.getAttribute("datetime")));
  }

  function onCategory(event) {
    if (event.target && event.target.id === "category") showPolicy(event.target.value);
  }
  document.addEventListener("change", onCategory);
  document.addEventListener("input", onCategory);

  document.body.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.target && event.detail.target.id === "workspace") sync();
  });

  document.body.addEventListener("htmx:afterRequest", function (event) {
    const source = event.detail.elt;
    if (!source || source.id !== "lease-status" || !event.detail.xhr) return;
    if (event.detail.xhr.status !== 204) return;
    const clock = document.getElementById("lease-until");
    const seconds = clock ? Number(clock.dataset.leaseSeconds) : NaN;
    if (seconds > 0) showLeaseUntil(new Date(Date.now() + seconds * 1000));
  });

  sync();
})();
