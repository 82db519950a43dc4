/* visanom leaderboard: sortable tables (no dependencies).
 * A table with the data-sortable attribute sorts by a column when its header button is
 * clicked: the first click uses the header's data-default direction, later clicks toggle.
 * Cells give their sort value in data-sort (numbers for data-type="num"); empty values
 * always sort last. Ties keep their previous order. */
(function () {
  "use strict";

  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

  function sortValue(row, index, type) {
    var cell = row.cells[index];
    if (!cell) { return null; }
    var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    if (raw === "") { return null; }
    if (type === "num") {
      var x = parseFloat(raw);
      return isFinite(x) ? x : null;
    }
    return raw;
  }

  function compare(a, b, type) {
    return type === "num" ? a - b : collator.compare(a, b);
  }

  function sortBy(table, header, direction) {
    var headers = table.tHead.rows[0].cells;
    var index = Array.prototype.indexOf.call(headers, header);
    var type = header.getAttribute("data-type") || "text";
    var sign = direction === "ascending" ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.map.call(body.rows, function (row, position) {
      return { row: row, key: sortValue(row, index, type), position: position };
    });
    rows.sort(function (a, b) {
      if (a.key === null || b.key === null) {
        if (a.key === b.key) { return a.position - b.position; }
        return a.key === null ? 1 : -1;
      }
      return sign * compare(a.key, b.key, type) || a.position - b.position;
    });
    rows.forEach(function (item) { body.appendChild(item.row); });
    Array.prototype.forEach.call(headers, function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", direction);
    table.dispatchEvent(new CustomEvent("visanom:order"));  /* filter.js lays the chart out in this order */
  }

  function onClick(table, header) {
    var current = header.getAttribute("aria-sort");
    var direction;
    if (current === "ascending") { direction = "descending"; }
    else if (current === "descending") { direction = "ascending"; }
    else { direction = header.getAttribute("data-default") === "asc" ? "ascending" : "descending"; }
    sortBy(table, header, direction);
  }

  function init() {
    var tables = document.querySelectorAll("table[data-sortable]");
    Array.prototype.forEach.call(tables, function (table) {
      if (!table.tHead || !table.tBodies.length) { return; }
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header) {
        var button = header.querySelector("button");
        if (button) { button.addEventListener("click", function () { onClick(table, header); }); }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
