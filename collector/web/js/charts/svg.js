/* SVG drawing for the group page's charts (parallel coordinates, scatter): elements, the objective's colour ramp, the pointer.
 *
 * Like dom.js, every value reaches the drawing as an attribute set through the DOM or as a text node,
 * never as markup. Colours are presentation attributes (stroke=, fill=), not style attributes, which the
 * page's CSP (style-src 'self') would refuse; the stylesheet dims and highlights lines by class.
 */

export const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element: s("path", { d: "M0 0", class: "x", text: "label", dataset: {...} }, ...children). */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") el.textContent = String(value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// Worst → best: a pale slate that recedes on light and dark backgrounds alike, through blue and violet, to orange.
const STOPS = [[143, 163, 191], [76, 110, 245], [190, 75, 219], [247, 103, 7]];

/** The colour of an objective's place t between the worst run (0) and the best (1), as "rgb(r, g, b)". */
export function ramp(t) {
  const x = Math.min(Math.max(Number.isFinite(t) ? t : 0, 0), 1) * (STOPS.length - 1);
  const i = Math.min(Math.floor(x), STOPS.length - 2);
  const f = x - i;
  const [r, g, b] = STOPS[i].map((c, k) => Math.round(c + (STOPS[i + 1][k] - c) * f));
  return `rgb(${r}, ${g}, ${b})`;
}

/** Where a mouse event is inside an SVG drawn at 1 user unit per CSS pixel: { x, y }. */
export function pointer(svg, event) {
  const box = svg.getBoundingClientRect();
  return { x: event.clientX - box.left, y: event.clientY - box.top };
}

/** Text shortened to fit about `px` pixels at the charts' 11 px font (the full text goes in a <title>). */
export function fit(text, px) {
  const room = Math.max(3, Math.floor(px / 6.2));
  return text.length <= room ? text : text.slice(0, room - 1) + "…";
}

/**
 * Redraw `draw(width)` whenever the box's width changes (and first once it has one): an SVG drawn at its
 * real size keeps its text unstretched. Returns the observer's destroy().
 */
export function onWidth(box, draw) {
  let width = 0;
  const observer = new ResizeObserver(() => {
    const w = Math.floor(box.clientWidth);
    if (w > 0 && w !== width) { width = w; draw(w); }
  });
  observer.observe(box);
  return () => observer.disconnect();
}
