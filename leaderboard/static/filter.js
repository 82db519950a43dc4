/* visanom leaderboard: group filters and the chart that follows its table. Each
 * .filters[data-filter-for] holds checkboxes whose value is a group name (or "@reported" for
 * published rows); unchecking one hides the rows and the chart bars of that group (the
 * `hidden` attribute, which the stylesheet turns into display: none for HTML and SVG alike).
 * When no row is left, the table's "no rows match" note shows. The chart's bars are laid out
 * in the table's row order after every sort or filter (sortable.js sends "visanom:order"). */
(function () {
  "use strict";

  function setHidden(el, hide) {
    if (hide) { el.setAttribute("hidden", ""); } else { el.removeAttribute("hidden"); }
  }

  function sectionOf(table) {
    var node = table;
    while (node && !(node.classList && node.classList.contains("task"))) { node = node.parentNode; }
    return node || document;
  }

  /* Bars in the order of the table's visible rows: bar k moves to slot k. */
  function layoutChart(table) {
    var section = sectionOf(table);
    var bars = {};
    Array.prototype.forEach.call(section.querySelectorAll("svg g.bar[data-key]"), function (g) {
      bars[g.getAttribute("data-key")] = g;
    });
    var first = null, step = null;
    Object.keys(bars).forEach(function (key) {
      var y = parseFloat(bars[key].getAttribute("data-y"));
      if (first === null || y < first) { first = y; }
    });
    var ys = Object.keys(bars).map(function (key) { return parseFloat(bars[key].getAttribute("data-y")); }).sort(function (a, b) { return a - b; });
    step = ys.length > 1 ? ys[1] - ys[0] : 0;
    var slot = 0;
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      var key = row.getAttribute("data-key");
      if (!key || !Object.prototype.hasOwnProperty.call(bars, key)) { return; }
      var g = bars[key];
      setHidden(g, row.hasAttribute("hidden"));
      if (row.hasAttribute("hidden")) { return; }
      var dy = first + slot * step - parseFloat(g.getAttribute("data-y"));
      g.setAttribute("transform", "translate(0," + dy + ")");
      slot += 1;
    });
  }

  function apply(box) {
    var table = document.getElementById(box.getAttribute("data-filter-for"));
    if (!table) { return; }
    var hidden = {};
    var showReported = true;
    Array.prototype.forEach.call(box.querySelectorAll("input[type=checkbox]"), function (input) {
      if (input.value === "@reported") { showReported = input.checked; }
      else if (!input.checked) { hidden[input.value] = true; }
    });
    var shown = 0;
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      var reported = row.getAttribute("data-reported") === "1";
      var hide = Object.prototype.hasOwnProperty.call(hidden, row.getAttribute("data-group")) || (reported && !showReported);
      setHidden(row, hide);
      if (!hide) { shown += 1; }
    });
    var note = document.querySelector("[data-no-match-for='" + table.id + "']");
    if (note) { setHidden(note, shown > 0); }
    layoutChart(table);
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll(".filters[data-filter-for]"), function (box) {
      box.addEventListener("change", function () { apply(box); });
      apply(box);
    });
    Array.prototype.forEach.call(document.querySelectorAll("table.board[data-sortable]"), function (table) {
      table.addEventListener("visanom:order", function () { layoutChart(table); });
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
}());
