/* visanom sample viewer. Reads the run's samples from the JSON in #viewer-data (never
 * executed) and draws the selected one in ONE svg with ONE x scale: the plot the model saw
 * (text models) with ground-truth and predicted intervals, the series strip and the score
 * curve with threshold (score models), axes with ticks, the train/test split, and a zoom to
 * any interval. Then the answer, parse status and issues, per-sample metrics and counts.
 * All data is written with textContent / setAttribute: nothing from the data becomes markup.
 * State is in the URL fragment (#s=ID&show=FILTER); stepping adds history entries, so Back
 * returns to the previous sample. */
(function () {
  "use strict";
  var data = null;
  var order = [];
  var current = 0;
  var zoom = null;  /* [a, b] absolute indices, or null for the whole sample */

  var el = window.visanomDom.el;  /* static/dom.js */
  var svg = window.visanomDom.svg;
  var plots = window.visanomPlot;  /* static/plot.js */
  var W = 1000;

  function fmt(v) {
    if (v === null || v === undefined || typeof v !== "number" || !isFinite(v)) { return "—"; }
    return Math.abs(v) < 10 ? v.toFixed(3) : String(Math.round(v * 10) / 10);
  }

  function intervalsText(list) {
    if (!list || !list.length) { return "none"; }
    return list.map(function (iv) { return "[" + iv[0] + ", " + iv[1] + "]"; }).join(" ");
  }

  function readHash() {
    var out = {};
    window.location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var k = part.indexOf("=");
      if (k < 0) { return; }
      try { out[part.slice(0, k)] = decodeURIComponent(part.slice(k + 1)); } catch (e) { /* ignore a bad escape */ }
    });
    return out;
  }

  function filterValue() { return document.getElementById("status-filter").value; }

  function visible() {
    var want = filterValue();
    return data.samples.map(function (s, i) { return i; }).filter(function (i) {
      var s = data.samples[i];
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

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  /* The x scale of a sample: fractions fx0..fx1 of the figure width hold indices d0..d1.
   * With a plot image, fx0/fx1 are where the image's own axis draws the first and last index. */
  function scaleOf(s) {
    var n = s.length || (s.series && s.series.n) || (s.scores && s.scores.n) || 1;
    var first = s.offset, last = s.offset + Math.max(1, n - 1);
    var fx0 = s.overlay ? s.overlay.x0 : 0.10, fx1 = s.overlay ? s.overlay.x1 : 0.985;
    var d0 = zoom ? zoom[0] : first, d1 = zoom ? zoom[1] : last;
    if (d1 <= d0) { d1 = d0 + 1; }
    return { first: first, last: last, fx0: fx0, fx1: fx1, d0: d0, d1: d1,
      x: function (i) { return W * (fx0 + (fx1 - fx0) * (i - d0) / (d1 - d0)); } };
  }

  function describe(s) {
    return "sample " + s.id + " of " + data.label + ": ground truth " + intervalsText(s.gt) + ", predicted " + intervalsText(s.pred) +
      (zoom ? ", zoomed to [" + zoom[0] + ", " + zoom[1] + "]" : "");
  }

  function draw(figure, s) {
    var sc = scaleOf(s);
    var panels = [];
    var y = 0;
    if (s.image && s.overlay) {
      var h = W * s.overlay.aspect;
      panels.push({ kind: "image", y: y, h: h });
      y += h + 8;
    }
    if (s.series) { panels.push({ kind: "series", y: y + 18, h: 110, curve: s.series }); y += 18 + 110 + 8; }
    if (s.scores) { panels.push({ kind: "score", y: y + 18, h: 110, curve: s.scores }); y += 18 + 110 + 8; }
    var height = y + 28;
    var root = svg("svg", { "class": "curves", viewBox: "0 0 " + W + " " + height, role: "img", "aria-label": "plot of " + describe(s) });
    var clipId = "clip-" + Math.random().toString(36).slice(2);
    var defs = svg("defs");
    var clip = svg("clipPath", { id: clipId });
    clip.appendChild(svg("rect", { x: W * sc.fx0, y: 0, width: W * (sc.fx1 - sc.fx0), height: height }));
    defs.appendChild(clip);
    root.appendChild(defs);
    var body = svg("g", { "clip-path": "url(#" + clipId + ")" });
    var axes = svg("g");
    panels.forEach(function (p) {
      var top = p.y, h = p.h;
      if (p.kind === "image") {
        /* the image is stretched so that its own axis follows the shared scale */
        var a = (sc.last - sc.first) / (sc.d1 - sc.d0);
        var x0 = sc.x(sc.first) - a * W * sc.fx0;
        var img = svg("image", { href: data.root + s.image, x: x0, y: top, width: a * W, height: h, preserveAspectRatio: "none" });
        var imageClip = svg("g", { "clip-path": "url(#" + clipId + ")" });
        if (!zoom) { root.appendChild(img); } else { imageClip.appendChild(img); root.appendChild(imageClip); }
        top = top + h * s.overlay.top;
        h = h * (s.overlay.bottom - s.overlay.top);
      } else {
        axes.appendChild(svg("rect", { "class": "frame", x: W * sc.fx0, y: top, width: W * (sc.fx1 - sc.fx0), height: h }));
        var label = svg("text", { x: W * sc.fx0, y: top - 5, "class": "curve-label" });
        label.textContent = p.kind === "series" ? "series" : "anomaly score";
        axes.appendChild(label);
        plots.yTicks(axes, p.curve, W * sc.fx0, top, h);
      }
      plots.bands(body, s, sc, top, h);
      if (p.kind !== "image") {
        body.appendChild(svg("path", { "class": p.kind, d: plots.curvePath(p.curve, sc, s.offset, top, h) }));
      }
      if (p.kind === "score" && p.curve.threshold !== null && p.curve.threshold !== undefined) {
        var ty = top + h - (Math.min(999, Math.max(0, p.curve.threshold)) / 999) * h;
        body.appendChild(svg("line", { "class": "threshold", x1: W * sc.fx0, x2: W * sc.fx1, y1: ty, y2: ty }));
        var value = p.curve.lo + (p.curve.threshold / 999) * (p.curve.hi - p.curve.lo);
        var tl = svg("text", { x: W * sc.fx1 - 4, y: ty > top + 16 ? ty - 4 : ty + 13, "class": "threshold-label", "text-anchor": "end" });
        tl.textContent = "threshold " + fmt(value) + " (mean + 3 std)";
        axes.appendChild(tl);
      }
    });
    if (s.train_end !== null && s.train_end !== undefined) {
      var split = s.offset + s.train_end;
      if (split >= sc.d0 && split <= sc.d1) {
        var xs = sc.x(split);
        axes.appendChild(svg("line", { "class": "split", x1: xs, x2: xs, y1: 0, y2: height - 28 }));
        var curve = panels.filter(function (p) { return p.kind !== "image"; })[0];
        var ly = curve ? curve.y - 5 : height - 30;  /* in the label row above the first curve, clear of the axes */
        var left = svg("text", { x: xs - 4, y: ly, "class": "split-label", "text-anchor": "end" }); left.textContent = "◀ train";
        var right = svg("text", { x: xs + 4, y: ly, "class": "split-label" }); right.textContent = "test ▶";
        axes.appendChild(left); axes.appendChild(right);
      }
    }
    if (panels.length && panels[panels.length - 1].kind !== "image") {
      plots.xTicks(axes, sc, height - 28);
    }
    root.appendChild(body);
    root.appendChild(axes);
    var title = svg("title"); title.textContent = "plot of " + describe(s); root.insertBefore(title, root.firstChild);
    figure.appendChild(root);
  }

  function fillZoom(s) {
    var select = document.getElementById("zoom");
    clear(select);
    var whole = el("option", null, "whole sample"); whole.value = ""; select.appendChild(whole);
    [["ground truth", s.gt], ["predicted", s.pred]].forEach(function (pair) {
      pair[1].forEach(function (iv) {
        var option = el("option", null, pair[0] + " [" + iv[0] + ", " + iv[1] + "]");
        option.value = iv[0] + "," + iv[1];
        select.appendChild(option);
      });
    });
    select.value = zoom ? zoom.join(",") : "";
  }

  function fact(dl, key, value) {
    var div = el("div");
    div.appendChild(el("dt", null, key));
    div.appendChild(el("dd", null, value));
    dl.appendChild(div);
  }

  function setHash(s, push) {
    var hash = "#s=" + encodeURIComponent(s ? s.id : "") + (filterValue() ? "&show=" + encodeURIComponent(filterValue()) : "");
    if (window.location.hash === hash) { return; }
    if (push) { history.pushState(null, "", hash); } else { history.replaceState(null, "", hash); }
  }

  function showEmpty() {
    document.getElementById("sample-title").textContent = "No sample matches “" + filterValue() + "”";
    document.getElementById("position").textContent = "0 of " + data.samples.length;
    document.getElementById("status").textContent = "Choose another filter to see samples.";
    document.getElementById("status").className = "status";
    ["plot", "facts", "issues", "answer"].forEach(function (id) { clear(document.getElementById(id)); });
    document.getElementById("details").setAttribute("hidden", "");
    document.getElementById("compare-link").setAttribute("hidden", "");
  }

  function show(index, push) {
    if (!order.length) { showEmpty(); setHash(null, push); return; }
    document.getElementById("details").removeAttribute("hidden");
    document.getElementById("compare-link").removeAttribute("hidden");
    var next = Math.max(0, Math.min(order.length - 1, index));
    if (next !== current) { zoom = null; }
    current = next;
    var i = order[current];
    var s = data.samples[i];
    document.getElementById("sample-select").value = String(i);
    document.getElementById("sample-title").textContent = s.id;
    document.getElementById("position").textContent = (current + 1) + " of " + order.length;
    var status = document.getElementById("status");
    status.textContent = "status: " + s.status + (s.degenerate ? " · degenerate scores" + (s.degenerate_reason ? " (" + s.degenerate_reason + ")" : "") : "") + (s.cached ? " · cached" : "");
    status.className = "status status-" + s.status.replace(" ", "-");
    var figure = document.getElementById("plot");
    clear(figure);
    fillZoom(s);
    if ((s.image && s.overlay) || s.series || s.scores) { draw(figure, s); }
    else if (s.image) {
      var img = el("img"); img.setAttribute("alt", "plot of " + describe(s)); img.src = data.root + s.image; figure.appendChild(img);
    } else { figure.appendChild(el("p", "muted", "No plot or series recorded for this sample.")); }
    var answerPanel = document.getElementById("answer-panel");
    var answer = document.getElementById("answer");
    var hasAnswer = !(s.text === null || s.text === undefined);
    if (!hasAnswer && !s.error && (s.scores || !s.image)) { answerPanel.setAttribute("hidden", ""); } else { answerPanel.removeAttribute("hidden"); }
    answer.textContent = hasAnswer ? s.text : (s.error ? "(no answer: " + s.error + ")" : "(no text output)");
    if (s.text_cut) { answer.appendChild(el("span", "muted", "\n… cut at 20,000 characters")); }
    var facts = document.getElementById("facts");
    clear(facts);
    fact(facts, "ground truth", intervalsText(s.gt));
    fact(facts, "predicted", intervalsText(s.pred));
    if (s.error) { fact(facts, "error", s.error); }
    Object.keys(s.metrics).forEach(function (k) { fact(facts, k, fmt(s.metrics[k])); });
    Object.keys(s.counts || {}).forEach(function (k) { fact(facts, k, String(s.counts[k])); });
    if (s.train_end !== null && s.train_end !== undefined) { fact(facts, "train / test split", "first test index " + (s.offset + s.train_end)); }
    if (s.latency_s !== null) { fact(facts, "latency", fmt(s.latency_s) + " s"); }
    Object.keys(s.meta).forEach(function (k) { fact(facts, "meta: " + k, s.meta[k]); });
    var issues = document.getElementById("issues");
    clear(issues);
    s.issues.forEach(function (text) { issues.appendChild(el("li", null, "parse: " + text)); });
    document.getElementById("compare-link").setAttribute("href", data.compare + "#s=" + encodeURIComponent(s.id));
    setHash(s, push);
  }

  function notice(text) {
    var box = document.getElementById("notice");
    box.textContent = text || "";
    if (text) { box.removeAttribute("hidden"); } else { box.setAttribute("hidden", ""); }
  }

  /* Show what the URL asks for: its filter, then its sample (or say it is not there). */
  function fromUrl() {
    var state = readHash();
    var filter = document.getElementById("status-filter");
    var wanted = Object.prototype.hasOwnProperty.call(state, "show") ? state.show : "";
    var valid = Array.prototype.some.call(filter.options, function (o) { return o.value === wanted; });
    filter.value = valid ? wanted : "";
    fillSelect();
    var start = 0;
    notice(null);
    if (Object.prototype.hasOwnProperty.call(state, "s") && state.s !== "") {
      var k = -1;
      order.forEach(function (i, pos) { if (data.samples[i].id === state.s) { k = pos; } });
      if (k >= 0) { start = k; }
      else if (order.length) { notice("Sample “" + state.s + "” is not in this run" + (filter.value ? " under this filter" : "") + "; showing the first sample instead."); }
    }
    current = -1;
    show(start, false);
  }

  function init() {
    var node = document.getElementById("viewer-data");
    data = JSON.parse(node.textContent);
    document.getElementById("prev").addEventListener("click", function () { notice(null); show(current - 1, true); });
    document.getElementById("next").addEventListener("click", function () { notice(null); show(current + 1, true); });
    document.getElementById("sample-select").addEventListener("change", function (e) {
      notice(null);
      show(order.indexOf(parseInt(e.target.value, 10)), true);
    });
    document.getElementById("status-filter").addEventListener("change", function () { notice(null); fillSelect(); current = -1; show(0, true); });
    document.getElementById("zoom").addEventListener("change", function (e) {
      var v = e.target.value;
      var s = data.samples[order[current]];
      if (!v) { zoom = null; } else {
        var ab = v.split(",").map(Number);
        var pad = Math.max(5, Math.round((ab[1] - ab[0] + 1) * 1.5));
        zoom = [ab[0] - pad, ab[1] + pad];
      }
      var figure = document.getElementById("plot");
      clear(figure);
      draw(figure, s);
    });
    document.addEventListener("keydown", function (e) {
      if (e.target && (e.target.tagName === "SELECT" || e.target.tagName === "INPUT")) { return; }
      if (e.key === "ArrowLeft") { show(current - 1, true); }
      if (e.key === "ArrowRight") { show(current + 1, true); }
    });
    window.addEventListener("popstate", fromUrl);
    window.addEventListener("hashchange", fromUrl);
    fromUrl();
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
}());
