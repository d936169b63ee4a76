// The shortcuts page: after a refused save, focus goes to the first field in error (its
// message is tied to it with aria-describedby and announced by the alert above the form).
(function () {
  "use strict";
  const invalid = document.querySelector('#settings-form [aria-invalid="true"]');
  if (invalid) invalid.focus();
})();
