/* One metric of one run (run page): the series as loaded, drawn with the page's chart options, growing live.
 *
 * The chart keeps the series as the API gave it (steps, times when known, last values, the min/max band
 * of downsampled buckets) and draws it through the options of charts/view.js: y linear or log (values
 * ≤ 0 cannot sit on a log scale and are counted in the badge), EMA smoothing (the raw line stays, faint),
 * x by step or by wall-clock time. Non-finite values (NaN, ±Inf) are gaps, counted in the badge too.
 * uPlot is the vendored IIFE global window.uPlot; without it the chart keeps its data and counters only.
 *
 * data-* on the chart's box say what it holds and draws (tests and people read them): data-points (points
 * held), data-state (waiting → loading → drawn), data-scale (linear/log), data-x (step/time), data-y-ticks
 * and data-x-ticks (the labels drawn), data-smoothing.
 */

import { num } from "../api.js";
import { h } from "../dom.js";
import { axes, cssVar, fewPoints, scales } from "./axes.js";
import { drawable, ema, positive, sortedBy } from "./transform.js";

const HEIGHT = 220;

export class MetricChart {
  /** key: the metric; view: the page's ChartView (options shared by every chart of the page). */
  constructor(key, view) {
    this.key = key;
    this.view = view;
    this.x = []; this.ts = null; this.y = []; this.lo = []; this.hi = [];
    this.band = false;
    this.nonFinite = 0;
    this.loaded = false;
    this.count = 0; // points stored (a downsampled series holds fewer)
    this.zoomed = false;
    this.badge = h("span", { class: "badge" });
    this.note = h("span", { class: "note muted" });
    this.plotBox = h("div", { class: "plot" });
    this.box = h("div", { class: "chart metric", dataset: { key, points: "0", state: "waiting" } }, h("h3", {}, key, this.badge, this.note), this.plotBox);
  }

  /** Replace the data with a series from the API: {steps, values[, ts][, min, max, nans, downsampled]}. */
  load(data) {
    this.band = !!data.downsampled;
    this.nonFinite = 0;
    this.x = data.steps.slice();
    this.ts = Array.isArray(data.ts) && data.ts.length === data.steps.length ? data.ts.slice() : null;
    this.y = data.values.map((v) => this.finite(num(v)));
    this.lo = this.band ? data.min.map((v) => this.finite(num(v), true)) : this.y.slice();
    this.hi = this.band ? data.max.map((v) => this.finite(num(v), true)) : this.y.slice();
    if (this.band) this.nonFinite += data.nans.reduce((a, b) => a + b, 0);
    this.loaded = true;
    this.rebuild();
  }

  finite(v, quiet) {
    if (Number.isFinite(v)) return v;
    if (!quiet) this.nonFinite += 1;
    return null;
  }

  /** Live points (live frames carry no times: on a time axis the owner reloads instead, and this returns false).
   * A step older than the last is inserted where it belongs. Redrawn on the next animation frame. */
  append(steps, values) {
    if (this.view.x === "time") return false;
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i];
      const v = this.finite(num(values[i]));
      let at = this.x.length;
      if (at && step < this.x[at - 1]) { // out of order: binary search for its place
        let lo = 0, hi = at;
        while (lo < hi) { const mid = (lo + hi) >> 1; if (this.x[mid] <= step) lo = mid + 1; else hi = mid; }
        at = lo;
      }
      this.x.splice(at, 0, step); this.y.splice(at, 0, v); this.lo.splice(at, 0, v); this.hi.splice(at, 0, v);
    }
    this.ts = null; // times are known only for what the API sent
    if (!this.pending) this.pending = requestAnimationFrame(() => { this.pending = 0; this.redraw(); });
    return true;
  }

  /** The columns uPlot draws, and what the options hid, for the view as it is now. */
  columns() {
    const byTime = this.view.x === "time" && this.ts !== null;
    let y = this.y, lo = this.lo, hi = this.hi, hidden = 0;
    if (this.view.log) {
      const p = positive(y); y = p.values; hidden = p.hidden;
      lo = positive(lo).values; hi = positive(hi).values;
    }
    const smooth = this.view.smoothing > 0 ? ema(y, this.view.smoothing) : y;
    const raw = this.view.smoothing > 0 ? y : y.map(() => null);
    const data = byTime ? sortedBy(this.ts, smooth, raw, lo, hi) : [this.x, smooth, raw, lo, hi];
    return { data, byTime, hidden };
  }

  redraw() {
    const { data, byTime, hidden } = this.columns();
    const notes = [];
    if (this.nonFinite) notes.push(`${this.nonFinite} non-finite (NaN/±Inf)`);
    if (hidden) notes.push(`${hidden} ≤ 0 not on the log scale`);
    this.badge.textContent = notes.join(" · ");
    this.note.textContent = this.view.x === "time" && !byTime && this.loaded ? this.view.timeUnavailable(this) : "";
    Object.assign(this.box.dataset, { points: String(this.x.length), scale: this.view.log ? "log" : "linear",
      x: byTime ? "time" : "step", smoothing: String(this.view.smoothing), drawable: String(drawable(data[1])) });
    if (!window.uPlot || !this.loaded) return;
    if (this.plot && this.plotByTime === byTime) this.plot.setData(data, !this.zoomed); // a zoomed chart keeps its zoom
    else { this.destroyPlot(); this.plot = this.create(data, byTime); }
    this.box.dataset.state = "drawn";
  }

  /** After the smoothing changed: new data, unless the faint raw line must appear or go (a new plot). */
  redrawOptions() {
    if (this.plot && this.plotSmoothed !== this.view.smoothing > 0) this.rebuild();
    else this.redraw();
  }

  /** Draw anew with the view's options (a scale's kind cannot change on a live uPlot). */
  rebuild() {
    this.destroyPlot();
    this.redraw();
  }

  create(data, byTime) {
    const color = cssVar("--c0");
    const smoothing = this.view.smoothing > 0;
    const points = { show: fewPoints, size: 6, fill: color };
    const opts = {
      width: Math.max(300, this.plotBox.clientWidth || 440), height: HEIGHT,
      scales: scales({ time: byTime, log: this.view.log }),
      axes: axes({ time: byTime, onYLabels: (l) => { this.box.dataset.yTicks = l.join(" | "); },
        onXLabels: (l) => { this.box.dataset.xTicks = l.join(" | "); } }),
      cursor: { drag: { x: true, y: false } },
      series: [
        { label: byTime ? "time" : "step" },
        { label: smoothing ? "smoothed" : "value", stroke: color, width: 1.5, spanGaps: false, points },
        { label: "raw", show: smoothing, stroke: cssVar("--raw"), width: 1, spanGaps: false, points: { show: false } },
        { label: "min", stroke: "transparent", points: { show: false } },
        { label: "max", stroke: "transparent", points: { show: false } },
      ],
      bands: this.band ? [{ series: [4, 3], fill: cssVar("--band") }] : [],
      legend: { live: true },
      hooks: { setSelect: [(u) => { if (u.select.width > 0) this.zoomed = true; }] },
    };
    const plot = new window.uPlot(opts, data, this.plotBox);
    this.plotByTime = byTime;
    this.plotSmoothed = smoothing;
    plot.over.addEventListener("dblclick", () => { this.zoomed = false; this.redraw(); });
    this.resizer = new ResizeObserver(() => {
      const w = this.plotBox.clientWidth;
      if (w && Math.abs(w - plot.width) > 4) plot.setSize({ width: w, height: HEIGHT });
    });
    this.resizer.observe(this.plotBox);
    return plot;
  }

  destroyPlot() {
    if (this.resizer) this.resizer.disconnect();
    if (this.plot) this.plot.destroy();
    this.plot = null; this.resizer = null;
    this.zoomed = false;
  }

  destroy() {
    if (this.pending) cancelAnimationFrame(this.pending);
    this.destroyPlot();
  }
}
