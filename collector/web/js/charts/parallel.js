/* Parallel coordinates (group page): one vertical axis per param and the objective last, one line per run across them.
 *
 * Drawn in SVG at its real width (redrawn when that changes), so each line is an element: a person
 * hovers near a line to bring it forward and read its run and values under the chart, and clicks to
 * open the run; the group page also highlights a run here when its table row is hovered. Lines are
 * coloured by the objective (charts/svg.js ramp, best brightest, drawn on top); a run without an
 * objective is drawn dashed in the muted colour, underneath. The best run's line is thick and marked
 * "best" at the objective's end. Axes are numeric (log when the values span decades) or categorical
 * (charts/scale.js); a run missing a param passes through that axis's "missing" slot at the bottom.
 *
 * Structure for assistive technology (and the browser tests): the axes are a list (role=list, one
 * listitem per axis, data-key), the lines are a list (one listitem per run, data-run, labelled with its
 * name and values); the box says data-axes, data-lines and data-best.
 */

import { h } from "../dom.js";
import { fmt } from "../format.js";
import { cssVar } from "./axes.js";
import { label, makeScale, present } from "./scale.js";
import { fit, onWidth, pointer, ramp, s } from "./svg.js";

const HEIGHT = 360;
const TOP = 40, BOTTOM = 14, LEFT = 70, RIGHT = 60; // room for titles, tick labels and the "best" mark
const HIT_PX = 8; // how near a line the pointer must be to pick it
const HINT = "Hover a line to see its run and values; click to open the run.";

/** An axis value as the info line and a line's label write it. */
function shown(v) {
  return present(v) ? (typeof v === "number" ? fmt(v) : label(v)) : "–";
}

export class ParallelChart {
  /** axes: [{ key, label, get(run) }], the objective last; tone(run) → how good its objective is, 0 (worst) … 1 (best),
   * or null without one; best: the best run's id (or null); onHover(run or null) as the pointer picks runs; onOpen(run) on a click. */
  constructor({ runs, axes, tone, best = null, onHover = () => {}, onOpen = () => {} }) {
    Object.assign(this, { runs, axes, tone, best, onHover, onOpen });
    this.hovered = null;
    this.svg = s("svg", { class: "pc", height: HEIGHT, role: "group", "aria-label": `parallel coordinates: ${runs.length} runs over ${axes.length} axes` });
    this.info = h("div", { class: "chart-info muted", text: HINT });
    this.element = h("div", { class: "parallel", id: "parallel", dataset: { axes: String(axes.length), lines: String(runs.length), best: best || "" } },
      this.svg, this.info);
    this.svg.addEventListener("mousemove", (e) => this.pick(e));
    this.svg.addEventListener("mouseleave", () => this.hover(null));
    this.svg.addEventListener("click", () => { if (this.hovered) this.onOpen(this.hovered.run); });
    this.stopWatching = onWidth(this.element, (width) => this.draw(width));
  }

  draw(width) {
    this.svg.setAttribute("width", String(width));
    this.svg.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
    const n = this.axes.length;
    const span = Math.max(width - LEFT - RIGHT, 1);
    this.xs = this.axes.map((_, i) => (n === 1 ? LEFT + span / 2 : LEFT + (span * i) / (n - 1)));
    const y = (frac) => TOP + (1 - frac) * (HEIGHT - TOP - BOTTOM);
    const scales = this.axes.map((axis) => makeScale(this.runs.map((run) => axis.get(run))));
    const muted = cssVar("--muted");
    const lines = this.runs.map((run) => {
      const ys = scales.map((scale, i) => y(scale.place(this.axes[i].get(run)) ?? 0));
      return { run, ys, tone: this.tone(run) };
    });
    // the runs without an objective under everything, then worst to best, so the best lines are drawn on top
    const order = (l) => (l.run.id === this.best ? 2 : l.tone === null ? -1 : l.tone);
    lines.sort((a, b) => order(a) - order(b));
    const lineGroup = s("g", { class: "pc-lines", role: "list", "aria-label": "runs" }, lines.map((line) => {
      const d = line.ys.map((yy, i) => `${i ? "L" : "M"}${this.xs[i].toFixed(1)} ${yy.toFixed(1)}`).join(" ") + (n === 1 ? " h1" : "");
      const values = this.axes.map((axis) => `${axis.label} ${shown(axis.get(line.run))}`).join(", ");
      const best = line.run.id === this.best;
      const none = line.tone === null;
      line.path = s("path", { d, class: `pc-line${best ? " best" : ""}${none ? " no-objective" : ""}`,
        stroke: none ? muted : ramp(line.tone), "stroke-dasharray": none ? "3 3" : null,
        role: "listitem", "aria-label": `${line.run.name}${best ? " (best)" : ""}: ${values}`, dataset: { run: line.run.id } });
      return line.path;
    }));
    const bestLine = lines.find((l) => l.run.id === this.best);
    const mark = bestLine ? s("text", { class: "pc-best-mark", x: this.xs[n - 1] + 8, y: bestLine.ys[n - 1] + 4, text: "★ best" }) : null;
    const axisGroup = s("g", { class: "pc-axes", role: "list", "aria-label": "axes" },
      this.axes.map((axis, i) => this.axis(axis, scales[i], this.xs[i], y, span / Math.max(n - 1, 1))));
    this.lines = lines;
    this.svg.replaceChildren(lineGroup, axisGroup, ...(mark ? [mark] : []));
    if (this.hovered) this.highlight(this.hovered.run.id);
  }

  axis(axis, scale, x, y, room) {
    const kind = scale.kind + (scale.log ? " (log)" : "");
    return s("g", { class: "pc-axis", role: "listitem", "aria-label": `${axis.label}: ${kind}`, dataset: { key: axis.key, kind: scale.kind, log: String(scale.log) } },
      s("line", { x1: x, x2: x, y1: TOP, y2: HEIGHT - BOTTOM }),
      s("text", { class: "pc-title", x, y: TOP - 22, "text-anchor": "middle" }, fit(axis.label, room - 8), s("title", { text: `${axis.label} (${kind})` })),
      scale.ticks.map((t) => s("text", { class: `pc-tick${t.missing ? " missing" : ""}`, x: x - 5, y: y(t.at) + 4, "text-anchor": "end" }, fit(t.label, LEFT - 8))));
  }

  /** The line nearest the pointer (within HIT_PX), found along the segment under it. */
  pick(event) {
    if (!this.lines || !this.lines.length) return;
    const { x, y } = pointer(this.svg, event);
    let i = 0;
    while (i < this.xs.length - 2 && x > this.xs[i + 1]) i++;
    const x0 = this.xs[i], x1 = this.xs[Math.min(i + 1, this.xs.length - 1)];
    const t = x1 > x0 ? Math.min(Math.max((x - x0) / (x1 - x0), 0), 1) : 0;
    let nearest = null, distance = HIT_PX;
    for (const line of this.lines) {
      const ly = line.ys[i] + t * ((line.ys[Math.min(i + 1, line.ys.length - 1)]) - line.ys[i]);
      const d = Math.abs(ly - y);
      if (d < distance) { nearest = line; distance = d; }
    }
    if (nearest !== this.hovered) this.hover(nearest);
  }

  hover(line) {
    this.highlight(line ? line.run.id : null);
    this.onHover(line ? line.run : null);
  }

  /** Bring one run's line forward (null: none) and write its values under the chart. */
  highlight(runId) {
    if (this.hovered) this.hovered.path.classList.remove("hover");
    const line = (this.lines || []).find((l) => l.run.id === runId) || null;
    this.hovered = line;
    this.svg.classList.toggle("hovering", !!line);
    if (!line) {
      const best = (this.lines || []).find((l) => l.run.id === this.best);
      if (best) best.path.parentNode.append(best.path); // back on top once the hovered line lets go
      this.info.textContent = HINT;
      return;
    }
    line.path.classList.add("hover");
    line.path.parentNode.append(line.path); // drawn last: on top
    this.info.textContent = `${line.run.name}${line.run.id === this.best ? " (best)" : ""} — ` +
      this.axes.map((axis) => `${axis.label} ${shown(axis.get(line.run))}`).join(" · ");
  }

  destroy() {
    this.stopWatching();
  }
}
