/* A scatter of one param (x) against one metric (y) over the runs of a group, one point per run.
 *
 * SVG at its real width, like charts/parallel.js, whose axes it shares (charts/scale.js): a numeric
 * param gets a numeric (or log) x axis, a categorical one a place per value with the points spread a
 * little around it (by run id, so the same run always sits in the same place). Points are coloured by
 * the objective, the best run's point is large and ringed; hover shows a run's values, click opens it.
 * A run lacking the param or the metric has no place: it is left out and counted under the chart.
 *
 * The points are a list (role=list, a listitem per run with data-run); the box says data-points,
 * data-left-out and data-best.
 */

import { h } from "../dom.js";
import { fmt } from "../format.js";
import { cssVar } from "./axes.js";
import { label, makeScale, present } from "./scale.js";
import { fit, onWidth, pointer, ramp, s } from "./svg.js";

const HEIGHT = 320;
const TOP = 14, BOTTOM = 42, LEFT = 70, RIGHT = 20;
const HIT_PX = 10;
const PAD = 0.04; // of the plot on each side, so no point sits on its edge
const HINT = "Hover a point to see its run; click to open it.";

function shown(v) {
  return typeof v === "number" ? fmt(v) : label(v);
}

/** A fixed number in [-0.5, 0.5) for a run id: where its point sits around a category. */
function spread(id) {
  let hash = 2166136261;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 16777619);
  return (hash >>> 0) / 2 ** 32 - 0.5;
}

export class ScatterChart {
  /** x, y: { key, label, get(run) }; tone(run) → 0 (worst) … 1 (best) or null, as in ParallelChart; best: a run id or null. */
  constructor({ runs, x, y, tone, best = null, onHover = () => {}, onOpen = () => {} }) {
    Object.assign(this, { x, y, tone, best, onHover, onOpen });
    this.runs = runs.filter((run) => present(x.get(run)) && present(y.get(run)));
    const leftOut = runs.length - this.runs.length;
    this.hovered = null;
    this.svg = s("svg", { class: "scatter", height: HEIGHT, role: "group", "aria-label": `${y.label} against ${x.label}: ${this.runs.length} runs` });
    this.info = h("div", { class: "chart-info muted", text: HINT });
    this.element = h("div", { class: "scatter-box", id: "scatter", dataset: { points: String(this.runs.length), leftOut: String(leftOut), best: best || "", x: x.key, y: y.key } },
      this.svg, this.info,
      leftOut ? h("div", { class: "muted", id: "scatter-left-out", text: `${leftOut} run${leftOut === 1 ? "" : "s"} without ${x.label} or ${y.label}: not plotted.` }) : null);
    this.svg.addEventListener("mousemove", (e) => this.pick(e));
    this.svg.addEventListener("mouseleave", () => this.hover(null));
    this.svg.addEventListener("click", () => { if (this.hovered) this.onOpen(this.hovered.run); });
    this.stopWatching = onWidth(this.element, (width) => this.draw(width));
  }

  draw(width) {
    this.svg.setAttribute("width", String(width));
    this.svg.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
    const plotW = Math.max(width - LEFT - RIGHT, 1), plotH = HEIGHT - TOP - BOTTOM;
    const xs = makeScale(this.runs.map((r) => this.x.get(r)), { missingSlot: false });
    const ys = makeScale(this.runs.map((r) => this.y.get(r)), { missingSlot: false });
    const inset = (f) => PAD + f * (1 - 2 * PAD);
    const px = (f) => LEFT + inset(f) * plotW, py = (f) => TOP + (1 - inset(f)) * plotH;
    const band = xs.kind === "categorical" ? Math.min(plotW / Math.max(xs.categories.length, 1) * 0.6, 28) : 0;
    const muted = cssVar("--muted");
    const points = this.runs.map((run) => ({ run, tone: this.tone(run),
      cx: px(xs.pos(this.x.get(run))) + band * spread(run.id), cy: py(ys.pos(this.y.get(run))) }));
    const order = (p) => (p.run.id === this.best ? 2 : p.tone === null ? -1 : p.tone);
    points.sort((a, b) => order(a) - order(b));
    const dots = s("g", { class: "sc-points", role: "list", "aria-label": "runs" }, points.map((p) => {
      const best = p.run.id === this.best;
      p.dot = s("circle", { class: `sc-point${best ? " best" : ""}`, cx: p.cx.toFixed(1), cy: p.cy.toFixed(1), r: best ? 7 : 4,
        fill: p.tone === null ? muted : ramp(p.tone), role: "listitem", dataset: { run: p.run.id },
        "aria-label": `${p.run.name}${best ? " (best)" : ""}: ${this.x.label} ${shown(this.x.get(p.run))}, ${this.y.label} ${shown(this.y.get(p.run))}` });
      return p.dot;
    }));
    const grid = s("g", { class: "sc-grid" },
      xs.ticks.map((t) => [s("line", { x1: px(t.at), x2: px(t.at), y1: TOP, y2: TOP + plotH }),
        s("text", { class: "sc-tick", x: px(t.at), y: TOP + plotH + 14, "text-anchor": "middle" }, fit(t.label, Math.max(plotW / xs.ticks.length - 4, 30)))]),
      ys.ticks.map((t) => [s("line", { x1: LEFT, x2: LEFT + plotW, y1: py(t.at), y2: py(t.at) }),
        s("text", { class: "sc-tick", x: LEFT - 6, y: py(t.at) + 4, "text-anchor": "end" }, fit(t.label, LEFT - 10))]));
    const titles = s("g", { class: "sc-titles" },
      s("text", { x: LEFT + plotW / 2, y: HEIGHT - 6, "text-anchor": "middle" }, fit(this.x.label + (xs.log ? " (log)" : ""), plotW)),
      s("text", { x: 4, y: TOP + plotH / 2, "text-anchor": "middle", transform: `rotate(-90 12 ${TOP + plotH / 2})` }, fit(this.y.label + (ys.log ? " (log)" : ""), plotH)));
    this.points = points;
    this.svg.replaceChildren(grid, titles, dots);
    if (this.hovered) this.highlight(this.hovered.run.id);
  }

  pick(event) {
    const { x, y } = pointer(this.svg, event);
    let nearest = null, distance = HIT_PX;
    for (const p of this.points || []) {
      const d = Math.hypot(p.cx - x, p.cy - y);
      if (d < distance) { nearest = p; distance = d; }
    }
    if (nearest !== this.hovered) this.hover(nearest);
  }

  hover(point) {
    this.highlight(point ? point.run.id : null);
    this.onHover(point ? point.run : null);
  }

  /** Ring one run's point and write its values under the chart (null: none). */
  highlight(runId) {
    if (this.hovered) this.hovered.dot.classList.remove("hover");
    const point = (this.points || []).find((p) => p.run.id === runId) || null;
    this.hovered = point;
    this.svg.classList.toggle("hovering", !!point);
    if (!point) { this.info.textContent = HINT; return; }
    point.dot.classList.add("hover");
    point.dot.parentNode.append(point.dot);
    this.info.textContent = `${point.run.name}${point.run.id === this.best ? " (best)" : ""} — ${this.x.label} ${shown(this.x.get(point.run))} · ${this.y.label} ${shown(this.y.get(point.run))}`;
  }

  destroy() {
    this.stopWatching();
  }
}
