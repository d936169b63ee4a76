// What an htmx request that failed does to the page: nothing, except say so beside the form.
//
// An error answer is swapped in only when the server marked it as one of our fragments
// (the X-Error-Fragment header, set by labeling/fragments.py: a form shown again with its
// errors and what was typed, a lease-lost notice). Anything else (Django's CSRF or DEBUG
// pages, the plain-text 413 and 503, a proxy's 502, a dropped connection, a timeout) would
// wipe the form, the typed text or the whole page if swapped: the page stays as it is, the
// heartbeat keeps the lease, and a message beside the element that sent the request says
// what happened and what to do. Elements may word it: data-failed ("Not saved") and
// data-retry ("Your decision is kept; press Ctrl+Enter to try again.").
(function () {
  "use strict";
  const FRAGMENT_HEADER = "X-Error-Fragment";
  const alerts = new WeakMap();

  function reason(xhr) {
    // A short plain-text answer is meant to be read (the request guards' 413 and 503).
    const type = xhr.getResponseHeader("Content-Type") || "";
    const text = type.startsWith("text/plain") ? (xhr.responseText || "").trim() : "";
    if (text && text.length <= 300) return text;
    const status = xhr.status;
    if (status === 403) return "the server refused it (HTTP 403); if this repeats, reload the page";
    if (status === 413) return "it is larger than the server accepts (HTTP 413)";
    if (status === 502 || status === 503 || status === 504) return `the server is unavailable (HTTP ${status})`;
    if (status >= 500) return `the server failed (HTTP ${status})`;
    return `the server refused it (HTTP ${status})`;
  }

  function sentence(text) {
    return /[.!?…]$/.test(text) ? text : `${text}.`;
  }

  function show(elt, why) {
    if (!elt || !elt.isConnected) return;
    const polls = (elt.getAttribute("hx-trigger") || "").includes("every");
    const failed = elt.dataset.failed || (elt.tagName === "FORM" ? "Not sent" : "Not updated");
    const retry = elt.dataset.retry || (polls ? "It tries again by itself." : "Try again.");
    const message = `${failed}: ${sentence(why)} ${retry}`;
    let alert = alerts.get(elt);
    if (!alert || !alert.isConnected) {
      alert = document.createElement("p");
      alert.className = "error request-error";
      alert.setAttribute("role", "alert");
      alert.setAttribute("aria-live", "assertive");
      const actions = elt.tagName === "FORM" ? elt.querySelector(".actions") : null;
      if (actions) actions.append(alert);
      else if (elt.tagName === "FORM") elt.append(alert);
      else elt.after(alert);
      alerts.set(elt, alert);
    }
    if (alert.textContent !== message) alert.textContent = message;
  }

  function clear(elt) {
    const alert = elt && alerts.get(elt);
    if (alert) alert.remove();
    if (elt) alerts.delete(elt);
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    const xhr = event.detail.xhr;
    if (xhr.status < 400) return;
    const ours = xhr.getResponseHeader(FRAGMENT_HEADER) === "swap";
    event.detail.shouldSwap = ours;
    event.detail.isError = !ours;
  });

  document.addEventListener("htmx:responseError", function (event) {
    show(event.detail.elt, reason(event.detail.xhr));
  });
  document.addEventListener("htmx:sendError", function (event) {
    show(event.detail.elt, "the server could not be reached");
  });
  document.addEventListener("htmx:timeout", function (event) {
    show(event.detail.elt, "the server did not answer in time");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) clear(event.detail.elt);
  });
})();
