/* visanom: one sample across every model of a task. Reads #compare-data (JSON, never
 * executed); for the sample in the URL fragment (#s=ID) draws the series with axes and the
 * ground truth, then lists each model's status, per-sample IoU, TP/FP/FN, point-F1 and
 * headline value, and its predicted intervals on the same index axis, with links to that
 * model's viewer on the same sample. Samples can be ordered by how much the models disagree;
 * ←/→ step. Data is written with textContent / setAttribute only. */
(function () {
  "use strict";
  var data = null;
  var order = [];
  var current = 0;

  var el = window.visanomDom.el;  /* static/dom.js */
  var svg = window.visanomDom.svg;
  var plots = window.visanomPlot;  /* static/plot.js */
  var W = 1000;

  function fmt(v) {
    return (typeof v === "number" && isFinite(v)) ? v.toFixed(3) : "—";
  }

  function scaleOf(truth) {
    var n = truth.length || (truth.series && truth.series.n) || 1, off = truth.offset || 0;
    var d0 = off, d1 = off + Math.max(1, n - 1);
    return { d0: d0, d1: d1, x: function (i) { return W * (0.10 + 0.885 * (i - d0) / (d1 - d0)); } };
  }

  function strip(truth, item) {
    var sc = scaleOf(truth);
    var box = svg("svg", { "class": "band", viewBox: "0 0 " + W + " 24", preserveAspectRatio: "none", role: "img",
      "aria-label": item ? "predicted " + (item[1].length ? item[1].map(function (iv) { return "[" + iv.join(", ") + "]"; }).join(" ") : "none") : "not run" });
    if (!item) { return box; }
    box.appendChild(svg("rect", { "class": "track", x: sc.x(sc.d0), y: 0, width: sc.x(sc.d1) - sc.x(sc.d0), height: 24 }));
    plots.bands(box, { gt: truth.gt || [], pred: [] }, sc, 0, 12);
    plots.bands(box, { gt: [], pred: item[1] || [] }, sc, -24, 48);  /* the lower quarter of 48 from -24: 12..24 */
    return box;
  }

  function drawSeries(figure, truth) {
    while (figure.firstChild) { figure.removeChild(figure.firstChild); }
    if (!truth.series) { return; }
    var sc = scaleOf(truth);
    var root = svg("svg", { "class": "curves", viewBox: "0 0 " + W + " 170", role: "img",
      "aria-label": "series of the sample with its ground truth" });
    var g = svg("g");
    plots.bands(g, { gt: truth.gt || [], pred: [] }, sc, 10, 120);
    g.appendChild(svg("path", { "class": "series", d: plots.curvePath(truth.series, sc, truth.offset || 0, 10, 120) }));
    plots.yTicks(g, truth.series, sc.x(sc.d0), 10, 120);
    plots.xTicks(g, sc, 140);
    root.appendChild(g);
    figure.appendChild(root);
  }

  function fromHash() {
    var m = /^#s=([^&]*)/.exec(window.location.hash);
    if (!m) { return null; }
    try { return decodeURIComponent(m[1]); } catch (e) { return null; }
  }

  function valueOf(item) {
    if (!item) { return null; }
    var v = item[4] && typeof item[4].IoU === "number" ? item[4].IoU : item[2];
    return typeof v === "number" && isFinite(v) ? v : null;
  }

  function disagreement(id) {
    var values = data.models.map(function (m) { return valueOf(m.samples[id]); }).filter(function (v) { return v !== null; });
    return values.length < 2 ? 0 : Math.max.apply(null, values) - Math.min.apply(null, values);
  }

  function fillSelect() {
    var select = document.getElementById("sample-select");
    while (select.firstChild) { select.removeChild(select.firstChild); }
    order = data.ids.slice();
    if (document.getElementById("order").value === "disagree") {
      var spread = {};
      order.forEach(function (id) { spread[id] = disagreement(id); });
      order.sort(function (a, b) { return spread[b] - spread[a]; });  /* stable: ties keep run order */
    }
    order.forEach(function (id, k) {
      var option = el("option", null, id);
      option.value = String(k);
      select.appendChild(option);
    });
  }

  function show(index, push) {
    if (!order.length) { return; }
    current = Math.max(0, Math.min(order.length - 1, index));
    var id = order[current];
    var truth = data.truth[id] || {};
    document.getElementById("sample-select").value = String(current);
    document.getElementById("sample-title").textContent = id;
    document.getElementById("position").textContent = (current + 1) + " of " + order.length + (document.getElementById("order").value === "disagree" ? " (spread " + fmt(disagreement(id)) + ")" : "");
    drawSeries(document.getElementById("series-plot"), truth);
    var body = document.getElementById("compare-body");
    while (body.firstChild) { body.removeChild(body.firstChild); }
    data.models.forEach(function (model, k) {
      var item = Object.prototype.hasOwnProperty.call(model.samples, id) ? model.samples[id] : null;
      var values = (item && item[4]) || {};
      var tr = el("tr");
      tr.setAttribute("data-model-index", String(k));
      var name = el("th", "model");
      name.setAttribute("scope", "row");
      var link = el("a", null, model.label);
      link.setAttribute("href", model.href + "#s=" + encodeURIComponent(id));
      name.appendChild(link);
      tr.appendChild(name);
      /* item: [status, predicted intervals, per-sample headline value, degenerate, {IoU, TP, FP, FN, Point-F1}] */
      tr.appendChild(el("td", item && item[0] !== "ok" ? "bad" : null, item ? item[0] + (item[3] ? ", degenerate" : "") : "not run"));
      tr.appendChild(el("td", "num iou", item ? fmt(values.IoU) : "—"));
      var counts = ["TP", "FP", "FN"].map(function (key) { return typeof values[key] === "number" ? String(values[key]) : "—"; });
      tr.appendChild(el("td", "num counts", item ? counts.join(" / ") : "—"));
      tr.appendChild(el("td", "num pf1", item ? fmt(values["Point-F1"]) : "—"));
      tr.appendChild(el("td", "num headline-val", item ? fmt(item[2]) : "—"));
      var cell = el("td", "band-col");
      cell.appendChild(strip(truth, item));
      tr.appendChild(cell);
      var step = el("td");
      var open = el("a", null, "open ▶");
      open.setAttribute("href", model.href + "#s=" + encodeURIComponent(id));
      step.appendChild(open);
      tr.appendChild(step);
      body.appendChild(tr);
    });
    /* a value no model has for this sample (e.g. a headline defined only over the set) gets no column */
    var has = { iou: false, counts: false, pf1: false, "headline-val": false };
    data.models.forEach(function (m) {
      var it = m.samples[id];
      if (!it) { return; }
      var v = it[4] || {};
      has.iou = has.iou || typeof v.IoU === "number";
      has.counts = has.counts || typeof v.TP === "number";
      has.pf1 = has.pf1 || typeof v["Point-F1"] === "number";
      has["headline-val"] = has["headline-val"] || typeof it[2] === "number";
    });
    Object.keys(has).forEach(function (key) {
      Array.prototype.forEach.call(document.querySelectorAll("#compare-table th[data-col='" + key + "'], #compare-body td." + key), function (cell) {
        if (has[key]) { cell.removeAttribute("hidden"); } else { cell.setAttribute("hidden", ""); }
      });
    });
    var hash = "#s=" + encodeURIComponent(id);
    if (window.location.hash !== hash) {
      if (push) { history.pushState(null, "", hash); } else { history.replaceState(null, "", hash); }
    }
  }

  function init() {
    data = JSON.parse(document.getElementById("compare-data").textContent);
    fillSelect();
    var wanted = fromHash();
    var start = wanted === null ? 0 : Math.max(0, order.indexOf(wanted));
    var select = document.getElementById("sample-select");
    document.getElementById("prev").addEventListener("click", function () { show(current - 1, true); });
    document.getElementById("next").addEventListener("click", function () { show(current + 1, true); });
    select.addEventListener("change", function (e) { show(parseInt(e.target.value, 10), true); });
    document.getElementById("order").addEventListener("change", function () {
      var id = order[current];
      fillSelect();
      show(order.indexOf(id) >= 0 ? 0 : 0, true);
    });
    document.addEventListener("keydown", function (e) {
      if (e.target && (e.target.tagName === "SELECT" || e.target.tagName === "INPUT")) { return; }
      if (e.key === "ArrowLeft") { show(current - 1, true); }
      if (e.key === "ArrowRight") { show(current + 1, true); }
    });
    window.addEventListener("hashchange", function () {
      var k = order.indexOf(fromHash());
      if (k >= 0 && k !== current) { show(k, false); }
    });
    show(start, false);
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
}());
