/* Tables read as lists on narrow screens (static/css/app.css): each cell is
   then shown with its column's name, which this copies from the table's
   header row into the cell's data-label. Without the script the cells still
   reflow, only without their column names. */
(function () {
  "use strict";
  function label(table) {
    var heads = table.querySelectorAll("thead th");
    if (!heads.length) return;
    var names = Array.prototype.map.call(heads, function (th) { return th.textContent.trim(); });
    Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (row) {
      var column = 0;
      Array.prototype.forEach.call(row.children, function (cell) {
        var name = names[column];
        if (name && !cell.hasAttribute("data-label") && (cell.colSpan || 1) === 1) cell.setAttribute("data-label", name);
        column += cell.colSpan || 1;
      });
    });
  }
  function start() { Array.prototype.forEach.call(document.querySelectorAll("table"), label); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
