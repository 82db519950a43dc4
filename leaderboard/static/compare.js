/* visanom: one sample across every model of a task. Reads #compare-data (JSON, never
 * executed); for the sample in the URL fragment (#s=ID) lists each model's status, value
 * and predicted intervals on a shared axis with the ground truth, and links to that
 * model's viewer on the same sample. Data is written with textContent / setAttribute only. */
(function () {
  "use strict";
  var data = null;
  var current = 0;

  var el = window.visanomDom.el;  /* static/dom.js */
  var svg = window.visanomDom.svg;

  function fmt(v) {
    return (typeof v === "number" && isFinite(v)) ? v.toFixed(3) : "—";
  }

  function band(truth, item) {
    var box = svg("svg", { "class": "band", viewBox: "0 0 300 20", preserveAspectRatio: "none", role: "img" });
    if (!item) { return box; }
    var n = truth.length || 1, off = truth.offset || 0;
    function x(v) { return Math.max(0, Math.min(300, ((v - off) / Math.max(1, n - 1)) * 300)); }
    box.appendChild(svg("rect", { "class": "track", x: 0, y: 0, width: 300, height: 20 }));
    (truth.gt || []).forEach(function (iv) { box.appendChild(svg("rect", { "class": "gt", x: x(iv[0]), y: 0, width: Math.max(2, x(iv[1]) - x(iv[0])), height: 10 })); });
    (item[1] || []).forEach(function (iv) { box.appendChild(svg("rect", { "class": "pred", x: x(iv[0]), y: 10, width: Math.max(2, x(iv[1]) - x(iv[0])), height: 10 })); });
    return box;
  }

  function fromHash() {
    var m = /^#s=(.*)$/.exec(window.location.hash);
    if (!m) { return null; }
    try { return decodeURIComponent(m[1]); } catch (e) { return null; }
  }

  function show(index) {
    if (!data.ids.length) { return; }
    current = Math.max(0, Math.min(data.ids.length - 1, index));
    var id = data.ids[current];
    var truth = data.truth[id] || {};
    document.getElementById("sample-select").value = String(current);
    document.getElementById("sample-title").textContent = id;
    document.getElementById("position").textContent = (current + 1) + " of " + data.ids.length;
    var body = document.getElementById("compare-body");
    while (body.firstChild) { body.removeChild(body.firstChild); }
    data.models.forEach(function (model, k) {
      var item = Object.prototype.hasOwnProperty.call(model.samples, id) ? model.samples[id] : null;
      var tr = el("tr");
      tr.setAttribute("data-model-index", String(k));
      var name = el("td", "model");
      var link = el("a", null, model.label);
      link.setAttribute("href", model.href + "#s=" + encodeURIComponent(id));
      name.appendChild(link);
      tr.appendChild(name);
      /* item: [status, predicted intervals, per-sample headline value, degenerate] */
      tr.appendChild(el("td", item && item[0] !== "ok" ? "bad" : null, item ? item[0] + (item[3] ? ", degenerate" : "") : "not run"));
      tr.appendChild(el("td", "num", item ? fmt(item[2]) : "—"));
      var cell = el("td", "band-col");
      cell.appendChild(band(truth, item));
      tr.appendChild(cell);
      var step = el("td");
      var open = el("a", null, "open ▶");
      open.setAttribute("href", model.href + "#s=" + encodeURIComponent(id));
      step.appendChild(open);
      tr.appendChild(step);
      body.appendChild(tr);
    });
    var hash = "#s=" + encodeURIComponent(id);
    if (window.location.hash !== hash) { history.replaceState(null, "", hash); }
  }

  function init() {
    data = JSON.parse(document.getElementById("compare-data").textContent);
    var select = document.getElementById("sample-select");
    data.ids.forEach(function (id, k) {
      var option = el("option", null, id);
      option.value = String(k);
      select.appendChild(option);
    });
    var wanted = fromHash();
    var start = wanted === null ? 0 : Math.max(0, data.ids.indexOf(wanted));
    document.getElementById("prev").addEventListener("click", function () { show(current - 1); });
    document.getElementById("next").addEventListener("click", function () { show(current + 1); });
    select.addEventListener("change", function (e) { show(parseInt(e.target.value, 10)); });
    window.addEventListener("hashchange", function () {
      var k = data.ids.indexOf(fromHash());
      if (k >= 0 && k !== current) { show(k); }
    });
    show(start);
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
}());
