/* visanom: the drawing helpers the viewer and compare pages share: a curve as an SVG path,
 * interval bands with a minimum visible width, and axes with "nice" ticks. A scale `sc` maps
 * an absolute index to x (sc.x(i)) over the visible domain sc.d0..sc.d1.
 * Everything goes through setAttribute / textContent (static/dom.js). */
(function () {
  "use strict";
  var svg = window.visanomDom.svg;
  var MIN_BAND = 8;  /* a point anomaly stays visible: at least 8 of 1000 units wide */

  function niceTicks(lo, hi, count) {
    if (!(isFinite(lo) && isFinite(hi))) { return []; }
    if (hi <= lo) { return [lo]; }
    var raw = (hi - lo) / Math.max(1, count);
    var mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * mag; }).filter(function (s) { return s >= raw; })[0] || 10 * mag;
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) { out.push(Math.round(v / step) * step); }
    return out;
  }

  function label(v) {
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) { return v.toExponential(1); }
    return String(Math.round(v * 1000) / 1000);
  }

  /* x ticks under the plot at y0 (integer indices only). */
  function xTicks(g, sc, y0) {
    g.appendChild(svg("line", { "class": "axis", x1: sc.x(sc.d0), x2: sc.x(sc.d1), y1: y0, y2: y0 }));
    niceTicks(sc.d0, sc.d1, 8).filter(function (v) { return Math.round(v) === v; }).forEach(function (v) {
      var x = sc.x(v);
      g.appendChild(svg("line", { "class": "axis", x1: x, x2: x, y1: y0, y2: y0 + 5 }));
      var t = svg("text", { x: x, y: y0 + 18, "class": "tick", "text-anchor": "middle" });
      t.textContent = String(v);
      g.appendChild(t);
    });
    var name = svg("text", { x: sc.x(sc.d1), y: y0 - 4, "class": "tick", "text-anchor": "end" });
    name.textContent = "index";
    g.appendChild(name);
  }

  /* y ticks left of x0 for a quantised curve (values lo..hi drawn over top..top+h). */
  function yTicks(g, curve, x0, top, h) {
    if (curve.lo === null || curve.hi === null) { return; }
    var span = curve.hi - curve.lo || 1;
    g.appendChild(svg("line", { "class": "axis", x1: x0, x2: x0, y1: top, y2: top + h }));
    niceTicks(curve.lo, curve.hi, 3).forEach(function (v) {
      var y = top + h - ((v - curve.lo) / span) * h;
      g.appendChild(svg("line", { "class": "axis", x1: x0 - 5, x2: x0, y1: y, y2: y }));
      var t = svg("text", { x: x0 - 8, y: y + 4, "class": "tick", "text-anchor": "end" });
      t.textContent = label(v);
      g.appendChild(t);
    });
  }

  function band(g, cls, a, b, y, h) {
    var w = b - a;
    if (w < MIN_BAND) { a = (a + b) / 2 - MIN_BAND / 2; w = MIN_BAND; }
    g.appendChild(svg("rect", { "class": cls, x: a, y: y, width: w, height: h }));
  }

  /* ground truth over the full height, predictions over the lower quarter */
  function bands(g, s, sc, top, h) {
    (s.gt || []).forEach(function (iv) { band(g, "gt", sc.x(iv[0] - 0.5), sc.x(iv[1] + 0.5), top, h); });
    (s.pred || []).forEach(function (iv) { band(g, "pred", sc.x(iv[0] - 0.5), sc.x(iv[1] + 0.5), top + h * 0.75, h * 0.25); });
  }

  /* A reduced curve as one line: "raw" has one value per index; "minmax" two per bucket in
   * time order, drawn at a quarter and three quarters of the bucket. */
  function curvePath(curve, sc, offset, top, h) {
    var d = "";
    var pen = false;
    function yOf(q) { return (top + h - (q / 999) * h).toFixed(1); }
    function point(index, q) {
      if (q === null) { pen = false; return; }
      d += (pen ? "L" : "M") + sc.x(offset + index).toFixed(1) + " " + yOf(q);
      pen = true;
    }
    if (curve.mode === "raw") {
      curve.q.forEach(function (q, k) { point(k, q); });
      return d;
    }
    var size = curve.n / curve.buckets;
    for (var k = 0; k < curve.buckets; k += 1) {
      point((k + 0.25) * size, curve.q[2 * k]);
      point((k + 0.75) * size, curve.q[2 * k + 1]);
    }
    return d;
  }

  window.visanomPlot = Object.freeze({ niceTicks: niceTicks, xTicks: xTicks, yTicks: yTicks, bands: bands, curvePath: curvePath });
}());
