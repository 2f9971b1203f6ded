/* A counter beside every text area with a limit: "120 of 4000 characters".
   The limit itself is checked on the server (cases/limits.py); this only
   tells the writer how much room is left. The counter is named in the text
   area's aria-describedby, so a screen reader reads it with the field; it is
   announced (aria-live) only when fewer than a tenth of the characters remain. */
(function () {
  "use strict";
  var script = document.currentScript;
  var template = (script && script.dataset.template) || "{count} / {max}";
  var nearTemplate = (script && script.dataset.nearTemplate) || template;

  function attach(area, index) {
    var max = parseInt(area.getAttribute("maxlength"), 10);
    if (!max) return;
    var counter = document.createElement("p");
    counter.className = "help counter";
    counter.id = (area.id || "textarea-" + index) + "_counter";
    area.insertAdjacentElement("afterend", counter);
    var described = area.getAttribute("aria-describedby");
    area.setAttribute("aria-describedby", (described ? described + " " : "") + counter.id);
    function update() {
      var count = area.value.length;
      var near = max - count < max / 10;
      counter.textContent = (near ? nearTemplate : template)
        .replace("{count}", count)
        .replace("{max}", max)
        .replace("{left}", max - count);
      counter.classList.toggle("near", near);
      if (near) counter.setAttribute("aria-live", "polite");
      else counter.removeAttribute("aria-live");
    }
    area.addEventListener("input", update);
    update();
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("textarea[maxlength]"), attach);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
