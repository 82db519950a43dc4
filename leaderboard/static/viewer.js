/* visanom sample viewer. Reads the run's samples from the JSON in #viewer-data (never
 * executed) and draws the selected one: the plot the model saw with ground-truth and
 * predicted intervals overlaid (text models), or the series, score curve and threshold
 * (score models), the full answer, parse status and issues, and per-sample metrics.
 * All data is written with textContent / setAttribute: nothing from the data becomes markup.
 * The sample is kept in the URL fragment (#s=ID) so links and the back button work. */
(function () {
  "use strict";
  var data = null;
  var order = [];
  var current = 0;

  var el = window.visanomDom.el;  /* static/dom.js */
  var svg = window.visanomDom.svg;

  function fmt(v) {
    if (v === null || v === undefined || typeof v !== "number" || !isFinite(v)) { return "—"; }
    return Math.abs(v) < 10 ? v.toFixed(3) : String(Math.round(v * 10) / 10);
  }

  function intervalsText(list) {
    if (!list || !list.length) { return "none"; }
    return list.map(function (iv) { return "[" + iv[0] + ", " + iv[1] + "]"; }).join(" ");
  }

  function fromHash() {
    var m = /^#s=(.*)$/.exec(window.location.hash);
    if (!m) { return null; }
    try { return decodeURIComponent(m[1]); } catch (e) { return null; }
  }

  /* ?outcome=CLASS (from the interval-outcomes page): only samples with that outcome */
  var outcome = new URLSearchParams(window.location.search).get("outcome");

  function visible() {
    var want = document.getElementById("status-filter").value;
    return data.samples.map(function (s, i) { return i; }).filter(function (i) {
      var s = data.samples[i];
      if (outcome && (s.outcomes || []).indexOf(outcome) < 0) { return false; }
      if (!want) { return true; }
      if (want === "degenerate") { return !!s.degenerate; }
      return s.status === want;
    });
  }

  function fillSelect() {
    var select = document.getElementById("sample-select");
    while (select.firstChild) { select.removeChild(select.firstChild); }
    order = visible();
    order.forEach(function (i) {
      var s = data.samples[i];
      var option = el("option", null, s.id + (s.status !== "ok" ? " (" + s.status + ")" : ""));
      option.value = String(i);
      select.appendChild(option);
    });
  }

  function drawImage(figure, s) {
    var box = el("div", "plot-box");
    var img = el("img");
    img.setAttribute("alt", "the plot the model was shown");
    img.src = data.root + s.image;
    box.appendChild(img);
    if (s.overlay) {
      var o = s.overlay;
      var layer = svg("svg", { "class": "overlay", viewBox: "0 0 1000 1000", preserveAspectRatio: "none" });
      var top = o.top * 1000, height = (o.bottom - o.top) * 1000;
      o.gt.forEach(function (iv) {
        layer.appendChild(svg("rect", { "class": "gt", x: iv[0] * 1000, y: top, width: Math.max(2, (iv[1] - iv[0]) * 1000), height: height }));
      });
      o.pred.forEach(function (iv) {
        layer.appendChild(svg("rect", { "class": "pred", x: iv[0] * 1000, y: top + height * 0.5, width: Math.max(2, (iv[1] - iv[0]) * 1000), height: height * 0.5 }));
      });
      box.appendChild(layer);
    }
    figure.appendChild(box);
  }

  /* SVG path of a reduced curve: "raw" keeps one value per index (a line); "minmax" holds
   * each bucket's min and max (drawn as the filled band between them). */
  function curvePath(curve, x0, n, w, y0, h) {
    var d = "";
    var pen = false;
    var span = Math.max(1, n - 1);
    function yOf(q) { return (y0 + h - (q / 999) * h).toFixed(1); }
    if (curve.mode === "raw") {
      curve.q.forEach(function (q, k) {
        if (q === null) { pen = false; return; }
        d += (pen ? "L" : "M") + ((k / span) * w + x0).toFixed(1) + " " + yOf(q);
        pen = true;
      });
      return d;
    }
    /* each run of buckets with values becomes one closed shape: maxima forward, minima back */
    var top = [], bottom = [];
    function flush() {
      if (top.length) { d += "M" + top.join("L") + "L" + bottom.reverse().join("L") + "Z"; }
      top = []; bottom = [];
    }
    for (var k = 0; k < curve.buckets; k += 1) {
      var lo = curve.q[2 * k], hi = curve.q[2 * k + 1];
      if (lo === null || hi === null) { flush(); continue; }
      var x = ((((k + 0.5) * curve.n) / curve.buckets) / span * w + x0).toFixed(1);
      top.push(x + " " + yOf(hi));
      bottom.push(x + " " + yOf(lo));
    }
    flush();
    return d;
  }

  function drawCurves(figure, s) {
    var w = 1000, h = 160, gap = 24;
    var rows = (s.series ? 1 : 0) + (s.scores ? 1 : 0);
    var plot = svg("svg", { "class": "curves", viewBox: "0 0 " + (w + 20) + " " + (rows * (h + gap) + 10), role: "img" });
    var n = (s.series && s.series.n) || (s.scores && s.scores.n) || s.length || 1;
    var y = 10;
    function bands(yTop) {
      s.gt.forEach(function (iv) {
        var a = ((iv[0] - s.offset) / Math.max(1, n - 1)) * w + 10, b = ((iv[1] - s.offset) / Math.max(1, n - 1)) * w + 10;
        plot.appendChild(svg("rect", { "class": "gt", x: a, y: yTop, width: Math.max(2, b - a), height: h }));
      });
      s.pred.forEach(function (iv) {
        var a = ((iv[0] - s.offset) / Math.max(1, n - 1)) * w + 10, b = ((iv[1] - s.offset) / Math.max(1, n - 1)) * w + 10;
        plot.appendChild(svg("rect", { "class": "pred", x: a, y: yTop + h * 0.75, width: Math.max(2, b - a), height: h * 0.25 }));
      });
    }
    if (s.series) {
      bands(y);
      plot.appendChild(svg("path", { "class": "series " + s.series.mode, d: curvePath(s.series, 10, n, w, y, h) }));
      var t1 = svg("text", { x: 14, y: y + 12, "class": "curve-label" }); t1.textContent = "series"; plot.appendChild(t1);
      y += h + gap;
    }
    if (s.scores) {
      bands(y);
      plot.appendChild(svg("path", { "class": "score " + s.scores.mode, d: curvePath(s.scores, 10, s.scores.n, w, y, h) }));
      if (s.scores.threshold !== null && s.scores.threshold !== undefined) {
        var ty = y + h - (Math.min(999, Math.max(0, s.scores.threshold)) / 999) * h;
        plot.appendChild(svg("line", { "class": "threshold", x1: 10, x2: w + 10, y1: ty, y2: ty }));
      }
      var t2 = svg("text", { x: 14, y: y + 12, "class": "curve-label" }); t2.textContent = "score (dashed: threshold)"; plot.appendChild(t2);
    }
    figure.appendChild(plot);
  }

  function fact(dl, key, value) {
    var div = el("div");
    div.appendChild(el("dt", null, key));
    div.appendChild(el("dd", null, value));
    dl.appendChild(div);
  }

  function show(index) {
    if (!order.length) { return; }
    current = Math.max(0, Math.min(order.length - 1, index));
    var i = order[current];
    var s = data.samples[i];
    document.getElementById("sample-select").value = String(i);
    document.getElementById("sample-title").textContent = s.id;
    document.getElementById("position").textContent = (current + 1) + " of " + order.length;
    var status = document.getElementById("status");
    status.textContent = "status: " + s.status + (s.degenerate ? " · degenerate scores" + (s.degenerate_reason ? " (" + s.degenerate_reason + ")" : "") : "") + (s.cached ? " · cached" : "");
    status.className = "status status-" + s.status.replace(" ", "-");
    var figure = document.getElementById("plot");
    while (figure.firstChild) { figure.removeChild(figure.firstChild); }
    if (s.image) { drawImage(figure, s); }
    if (s.series || s.scores) { drawCurves(figure, s); }
    if (!s.image && !s.series && !s.scores) { figure.appendChild(el("p", "muted", "No plot or series recorded for this sample.")); }
    var answer = document.getElementById("answer");
    answer.textContent = s.text === null || s.text === undefined ? (s.error ? "(no answer: " + s.error + ")" : "(no text output)") : s.text;
    if (s.text_cut) { answer.appendChild(el("span", "muted", "\n… cut at 20,000 characters")); }
    var facts = document.getElementById("facts");
    while (facts.firstChild) { facts.removeChild(facts.firstChild); }
    fact(facts, "ground truth", intervalsText(s.gt));
    fact(facts, "predicted", intervalsText(s.pred));
    if (s.error) { fact(facts, "error", s.error); }
    Object.keys(s.metrics).forEach(function (k) { fact(facts, k, fmt(s.metrics[k])); });
    if (s.latency_s !== null) { fact(facts, "latency", fmt(s.latency_s) + " s"); }
    Object.keys(s.meta).forEach(function (k) { fact(facts, "meta: " + k, s.meta[k]); });
    var issues = document.getElementById("issues");
    while (issues.firstChild) { issues.removeChild(issues.firstChild); }
    s.issues.forEach(function (text) { issues.appendChild(el("li", null, "parse: " + text)); });
    document.getElementById("compare-link").setAttribute("href", data.compare + "#s=" + encodeURIComponent(s.id));
    var hash = "#s=" + encodeURIComponent(s.id);
    if (window.location.hash !== hash) { history.replaceState(null, "", hash); }
  }

  function init() {
    var node = document.getElementById("viewer-data");
    data = JSON.parse(node.textContent);
    if (outcome) {
      var note = el("p", "notice", "Showing only samples with outcome \u201c" + outcome + "\u201d. ");
      var all = el("a", null, "show all samples");
      all.setAttribute("href", window.location.pathname.split("/").pop());
      note.appendChild(all);
      var viewer = document.getElementById("viewer");
      viewer.parentNode.insertBefore(note, viewer);
    }
    fillSelect();
    var wanted = fromHash();
    var start = 0;
    if (wanted !== null) {
      order.forEach(function (i, k) { if (data.samples[i].id === wanted) { start = k; } });
    }
    document.getElementById("prev").addEventListener("click", function () { show(current - 1); });
    document.getElementById("next").addEventListener("click", function () { show(current + 1); });
    document.getElementById("sample-select").addEventListener("change", function (e) {
      show(order.indexOf(parseInt(e.target.value, 10)));
    });
    document.getElementById("status-filter").addEventListener("change", function () { fillSelect(); show(0); });
    document.addEventListener("keydown", function (e) {
      if (e.target && (e.target.tagName === "SELECT" || e.target.tagName === "INPUT")) { return; }
      if (e.key === "ArrowLeft") { show(current - 1); }
      if (e.key === "ArrowRight") { show(current + 1); }
    });
    window.addEventListener("hashchange", function () {
      var id = fromHash();
      order.forEach(function (i, k) { if (data.samples[i].id === id && k !== current) { show(k); } });
    });
    show(start);
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
}());
