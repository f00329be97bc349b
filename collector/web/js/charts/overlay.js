/* One metric across several runs (compare page): one line per run, joined on step.
 *
 * Same axes as the run page's charts (labels sized to fit, points drawn where a run has few), so a run
 * that logged a metric once still shows as a dot.
 */

import { num } from "../api.js";
import { h } from "../dom.js";
import { axes, cssVar, fewPoints, scales } from "./axes.js";

const COLORS = ["--c0", "--c1", "--c2", "--c3", "--c4", "--c5", "--c6", "--c7"];

export class OverlayChart {
  constructor(key, runs, seriesByRun) {
    this.box = h("div", { class: "chart", dataset: { key } }, h("h3", {}, key));
    const plotBox = h("div", {});
    this.box.append(plotBox);
    const tables = [];
    const series = [{ label: "step" }];
    runs.forEach((run, i) => {
      const s = (seriesByRun[run.id] || {})[key];
      if (!s || !s.steps.length) return;
      tables.push([s.steps, s.values.map((v) => { const n = num(v); return Number.isFinite(n) ? n : null; })]);
      const color = cssVar(COLORS[i % COLORS.length]);
      series.push({ label: run.name, stroke: color, width: 1.5, spanGaps: true, points: { show: fewPoints, size: 6, fill: color } });
    });
    if (!tables.length || !window.uPlot) { plotBox.append(h("p", { class: "muted", text: "no data" })); return; }
    const data = window.uPlot.join(tables);
    this.frame = requestAnimationFrame(() => {
      const opts = { width: Math.max(300, plotBox.clientWidth || 440), height: 240, scales: scales(), axes: axes(), series };
      this.plot = new window.uPlot(opts, data, plotBox);
    });
  }

  destroy() {
    cancelAnimationFrame(this.frame);
    if (this.plot) this.plot.destroy();
  }
}
