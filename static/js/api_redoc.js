/* Starts Redoc on the API's documentation page (templates/drf_spectacular/redoc.html)
   without an inline script: the schema's address and the style nonce of this
   response come from the container's data attributes. */
(function () {
  "use strict";
  var container = document.getElementById("redoc-container");
  var options = { disableSearch: true };
  if (container.dataset.styleNonce) {
    options.nonce = container.dataset.styleNonce;
  }
  Redoc.init(container.dataset.specUrl, options, container);
})();
