/* visanom leaderboard: the column picker. A details.col-picker[data-columns-for] lists one
 * checkbox per optional column (value = the header's data-col); a column whose box is
 * unchecked gets the `hidden` attribute on its header and on every cell at its index.
 * Cells the build marked data-show="0" start hidden; without JavaScript every column shows. */
(function () {
  "use strict";

  function apply(picker) {
    var table = document.getElementById(picker.getAttribute("data-columns-for"));
    if (!table) { return; }
    var shown = {};
    Array.prototype.forEach.call(picker.querySelectorAll("input[type=checkbox]"), function (input) {
      shown[input.value] = input.checked;
    });
    var headers = table.tHead.rows[0].cells;
    var hide = Array.prototype.map.call(headers, function (th) {
      var col = th.getAttribute("data-col");
      return Object.prototype.hasOwnProperty.call(shown, col) && !shown[col];
    });
    Array.prototype.forEach.call(table.rows, function (row) {
      Array.prototype.forEach.call(row.cells, function (cell, k) {
        if (hide[k]) { cell.setAttribute("hidden", ""); } else { cell.removeAttribute("hidden"); }
      });
    });
    var count = hide.filter(function (h) { return !h; }).length;
    var summary = picker.querySelector("summary");
    if (summary) { summary.textContent = "Columns (" + count + " of " + hide.length + " shown)"; }
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("details.col-picker[data-columns-for]"), function (picker) {
      picker.addEventListener("change", function () { apply(picker); });
      apply(picker);
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
}());
