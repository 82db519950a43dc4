/* visanom leaderboard: group filters. Each .filters[data-filter-for] holds checkboxes whose
 * value is a group name (or "@reported" for published rows); unchecking one hides the rows
 * (and chart bars) of that group in the table it names and the chart before it. */
(function () {
  "use strict";

  function apply(box) {
    var table = document.getElementById(box.getAttribute("data-filter-for"));
    if (!table) { return; }
    var hidden = {};
    var showReported = true;
    Array.prototype.forEach.call(box.querySelectorAll("input[type=checkbox]"), function (input) {
      if (input.value === "@reported") { showReported = input.checked; }
      else if (!input.checked) { hidden[input.value] = true; }
    });
    var section = box.parentNode;
    var items = Array.prototype.slice.call(table.tBodies[0].rows)
      .concat(Array.prototype.slice.call(section.querySelectorAll("svg g.bar")));
    items.forEach(function (el) {
      var group = el.getAttribute("data-group");
      var reported = el.getAttribute("data-reported") === "1";
      var hide = Object.prototype.hasOwnProperty.call(hidden, group) || (reported && !showReported);
      el.hidden = hide;
      if (hide) { el.classList.add("filtered"); } else { el.classList.remove("filtered"); }
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll(".filters[data-filter-for]"), function (box) {
      box.addEventListener("change", function () { apply(box); });
      apply(box);
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
}());
