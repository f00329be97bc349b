/* The run page's grid of metric charts, built lazily: a chart loads its series and draws only once it scrolls into view.
 *
 * A run can have a thousand metric keys. Every key gets a light placeholder box at once (so the filter
 * box and scrolling work), watched by one IntersectionObserver; a box coming near the viewport queues
 * its key, and queued keys are fetched a batch at a time (GET /runs/{id}/metrics?keys=...). Live points
 * for a chart whose read is under way are kept (up to a bound) and joined to it after the read, so nothing
 * that arrived meanwhile is missed; a chart not read yet ignores them (its read will find them stored).
 */

import { api } from "../api.js";
import { h } from "../dom.js";
import { MetricChart } from "./metric.js";
import { EXACT_TIME_LIMIT } from "./view.js";

const BATCH = 16; // keys per request
const MARGIN = "300px 0px"; // start loading a little before the box is on screen
const TIME_RELOAD_MS = 2000; // on a time axis live points come by reloading, at most this often per chart

export class LazyCharts {
  /** visit: the page's Visit; view: the ChartView; counts: key → points stored (the run's metric summary);
   * id: the grid element's id (a page with two grids, training and system metrics, names them apart). */
  constructor(visit, runId, view, { maxPoints, counts, id = "charts" }) {
    this.visit = visit;
    this.runId = runId;
    this.view = view;
    this.maxPoints = maxPoints;
    this.counts = counts;
    this.charts = new Map();
    this.buffered = new Map(); // key → [steps, values] that arrived live before the chart was loaded
    this.queued = new Set();
    this.reloadAt = new Map();
    this.element = h("div", { class: "charts", id });
    this.observer = new IntersectionObserver((entries) => this.seen(entries), { rootMargin: MARGIN });
    visit.own({ destroy: () => this.observer.disconnect() });
    view.onChange((change) => this.viewChanged(change));
  }

  /** The chart of a key (a placeholder until it is seen), created on first use. */
  chart(key) {
    let chart = this.charts.get(key);
    if (chart) return chart;
    chart = this.visit.own(new MetricChart(key, this.view));
    this.charts.set(key, chart);
    this.element.append(chart.box);
    this.observer.observe(chart.box);
    return chart;
  }

  /** Show only the charts whose key contains needle (case-insensitive). */
  filter(needle) {
    const n = needle.toLowerCase();
    for (const [key, chart] of this.charts) chart.box.hidden = !!n && !key.toLowerCase().includes(n);
  }

  seen(entries) {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      const key = entry.target.dataset.key;
      const chart = this.charts.get(key);
      if (chart && !chart.loaded && chart.box.dataset.state === "waiting") this.queue(key);
    }
  }

  queue(key) {
    this.queued.add(key);
    this.charts.get(key).box.dataset.state = "loading";
    if (!this.flushing) this.flushing = setTimeout(() => { this.flushing = 0; this.flush(); }, 0);
  }

  flush() {
    const keys = [...this.queued];
    this.queued.clear();
    const exact = keys.filter((k) => this.wantsTimes(k));
    const rest = keys.filter((k) => !this.wantsTimes(k));
    for (let i = 0; i < exact.length; i += BATCH) this.fetch(exact.slice(i, i + BATCH), 0);
    for (let i = 0; i < rest.length; i += BATCH) this.fetch(rest.slice(i, i + BATCH), this.maxPoints);
  }

  /** On a time axis a series small enough is read exact, which gives each point's time. */
  wantsTimes(key) {
    const chart = this.charts.get(key);
    const count = chart && chart.loaded ? chart.count : this.counts[key] || 0;
    return this.view.x === "time" && count <= EXACT_TIME_LIMIT;
  }

  async fetch(keys, maxPoints) {
    if (this.visit.left) return;
    const query = `max_points=${maxPoints}&keys=${encodeURIComponent(keys.join(","))}`;
    let data;
    try {
      data = await api(`/runs/${encodeURIComponent(this.runId)}/metrics?${query}`);
    } catch (err) {
      keys.forEach((k) => { const c = this.charts.get(k); if (c) { c.box.dataset.state = "error"; c.note.textContent = err.message; } });
      return;
    }
    if (this.visit.left) return;
    for (const key of keys) this.loaded(key, data.series[key] || { steps: [], values: [], count: 0 });
  }

  loaded(key, series) {
    const chart = this.charts.get(key);
    chart.load(series);
    chart.count = series.count ?? series.steps.length;
    const waiting = this.buffered.get(key);
    this.buffered.delete(key);
    if (!waiting) return;
    const last = chart.x.length ? chart.x[chart.x.length - 1] : -Infinity;
    const steps = [], values = [];
    waiting[0].forEach((step, i) => { if (step > last) { steps.push(step); values.push(waiting[1][i]); } });
    if (steps.length) this.append(chart, steps, values);
  }

  /** A frame's series of this run: appended, kept for a chart not loaded yet, or reloaded when too much or coalesced. */
  live(s, coalesced) {
    const chart = this.chart(s.key);
    if (!chart.loaded) {
      if (chart.box.dataset.state !== "loading") return; // not read yet: its read will find these points stored
      const kept = this.buffered.get(s.key) || [[], []];
      kept[0].push(...s.steps); kept[1].push(...s.values);
      if (kept[0].length > 4 * this.maxPoints) { this.buffered.delete(s.key); return; } // the load will have them
      this.buffered.set(s.key, kept);
      return;
    }
    if (coalesced || chart.x.length > 4 * this.maxPoints) this.reload(s.key);
    else this.append(chart, s.steps, s.values);
  }

  append(chart, steps, values) {
    if (chart.append(steps, values)) chart.count += steps.length;
    else this.reloadSoon(chart.key);
  }

  reload(key) { this.fetch([key], this.wantsTimes(key) ? 0 : this.maxPoints); }

  reloadSoon(key) {
    const due = this.reloadAt.get(key);
    if (due) return;
    this.reloadAt.set(key, setTimeout(() => { this.reloadAt.delete(key); this.reload(key); }, TIME_RELOAD_MS));
  }

  viewChanged(change) {
    for (const chart of this.charts.values()) {
      if (!chart.loaded) continue;
      if (change === "x" && this.view.x === "time" && chart.ts === null && this.wantsTimes(chart.key)) this.reload(chart.key);
      else if (change === "smoothing") chart.redrawOptions();
      else chart.rebuild();
    }
  }
}
