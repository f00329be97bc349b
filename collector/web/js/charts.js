/* Charts over uPlot: one metric of one run that grows live (run page), one metric across runs (compare page).
 *
 * uPlot is the vendored IIFE build (vendor/uPlot.iife.min.js), loaded by a classic deferred script
 * before the modules run and read here as window.uPlot. Without it the charts still keep their data
 * and counters (data-points), they just draw nothing. Non-finite values (NaN, ±Inf) are gaps in the
 * line, counted in the chart's badge.
 */

import { num } from "./api.js";
import { h } from "./dom.js";

const COLORS = ["--c0", "--c1", "--c2", "--c3", "--c4", "--c5", "--c6", "--c7"];

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function axes() {
  const stroke = cssVar("--muted");
  const grid = { stroke: cssVar("--border"), width: 1 };
  return [{ stroke, grid, ticks: grid }, { stroke, grid, ticks: grid, size: 60 }];
}

export class MetricChart {
  /* One metric of one run: last values, plus the min/max band when downsampled. Live points append in place. */
  constructor(key, data) {
    this.key = key;
    this.x = []; this.y = []; this.lo = []; this.hi = [];
    this.nonFinite = 0;
    this.zoomed = false;
    this.badge = h("span", { class: "badge" });
    this.box = h("div", { class: "chart", dataset: { key, points: "0" } }, h("h3", {}, key, this.badge));
    this.plotBox = h("div", {});
    this.box.append(this.plotBox);
    this.load(data);
  }

  /** Replace the data with a (possibly downsampled) series from the API: {steps, values[, min, max, nans, downsampled]}. */
  load(data) {
    const band = !!data.downsampled;
    this.x = data.steps.slice();
    this.y = data.values.map((v) => this.finite(num(v)));
    this.lo = band ? data.min.map((v) => this.finite(num(v), true)) : this.y.slice();
    this.hi = band ? data.max.map((v) => this.finite(num(v), true)) : this.y.slice();
    if (band) this.nonFinite += data.nans.reduce((a, b) => a + b, 0);
    this.redraw();
  }

  finite(v, quiet) {
    if (Number.isFinite(v)) return v;
    if (!quiet) this.nonFinite += 1;
    return null;
  }

  /** Live points; a step older than the last is inserted where it belongs. Redrawn on the next animation frame. */
  append(steps, values) {
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i];
      const v = this.finite(num(values[i]));
      let at = this.x.length;
      if (at && step < this.x[at - 1]) { // out of order: insert where it belongs
        let lo = 0, hi = at;
        while (lo < hi) { const mid = (lo + hi) >> 1; if (this.x[mid] <= step) lo = mid + 1; else hi = mid; }
        at = lo;
      }
      this.x.splice(at, 0, step); this.y.splice(at, 0, v); this.lo.splice(at, 0, v); this.hi.splice(at, 0, v);
    }
    this.scheduleRedraw();
  }

  scheduleRedraw() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => { this.pending = 0; this.redraw(); });
  }

  redraw() {
    this.badge.textContent = this.nonFinite ? `${this.nonFinite} non-finite (NaN/±Inf)` : "";
    this.box.dataset.points = String(this.x.length);
    if (!window.uPlot) return;
    const data = [this.x, this.y, this.lo, this.hi];
    if (!this.plot) this.plot = this.create(data);
    else this.plot.setData(data, !this.zoomed); // a zoomed chart keeps its zoom while data arrives
  }

  create(data) {
    const color = cssVar("--c0");
    const opts = {
      width: Math.max(300, this.plotBox.clientWidth || 440), height: 220,
      scales: { x: { time: false } },
      axes: axes(),
      cursor: { drag: { x: true, y: false } },
      series: [
        { label: "step" },
        { label: "value", stroke: color, width: 1.5, spanGaps: false, points: { show: false } },
        { label: "min", stroke: "transparent", points: { show: false } },
        { label: "max", stroke: "transparent", points: { show: false } },
      ],
      bands: [{ series: [3, 2], fill: cssVar("--band") }],
      legend: { live: true },
      hooks: { setSelect: [(u) => { if (u.select.width > 0) this.zoomed = true; }] },
    };
    const plot = new window.uPlot(opts, data, this.plotBox);
    plot.over.addEventListener("dblclick", () => { this.zoomed = false; plot.setData(data, true); });
    new ResizeObserver(() => {
      const w = this.plotBox.clientWidth;
      if (w && Math.abs(w - plot.width) > 4) plot.setSize({ width: w, height: 220 });
    }).observe(this.plotBox);
    return plot;
  }

  destroy() { if (this.plot) this.plot.destroy(); }
}

export class OverlayChart {
  /* One metric across several runs (compare page). */
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
      series.push({ label: run.name, stroke: cssVar(COLORS[i % COLORS.length]), width: 1.5, spanGaps: true, points: { show: false } });
    });
    if (!tables.length || !window.uPlot) { plotBox.append(h("p", { class: "muted", text: "no data" })); return; }
    const data = window.uPlot.join(tables);
    requestAnimationFrame(() => {
      const opts = { width: Math.max(300, plotBox.clientWidth || 440), height: 240, scales: { x: { time: false } }, axes: axes(), series };
      this.plot = new window.uPlot(opts, data, plotBox);
    });
  }

  destroy() { if (this.plot) this.plot.destroy(); }
}
