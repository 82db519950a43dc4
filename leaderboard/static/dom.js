/* visanom: the two DOM helpers the viewer and compare pages share. Text goes in through
 * textContent and attributes through setAttribute only: nothing from the data becomes markup. */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    return node;
  }

  window.visanomDom = Object.freeze({ el: el, svg: svg });
}());
