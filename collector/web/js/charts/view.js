/* The chart options of a page, and the toolbar that sets them: log y, EMA smoothing, x by step or by time.
 *
 * One ChartView is shared by every chart of the run page; a change redraws them all (onChange). The
 * choice is remembered in this browser (localStorage), so the next run opens the way the last was read.
 */

import { h } from "../dom.js";
import { fmt } from "../format.js";

const STORAGE_KEY = "runwatch.chartView";
export const EXACT_TIME_LIMIT = 20000; // a time axis needs each point's time: the API sends them for exact series only

function remembered() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "{}");
    return {
      log: saved.log === true,
      smoothing: Number.isFinite(saved.smoothing) ? Math.min(Math.max(saved.smoothing, 0), 0.99) : 0,
      x: saved.x === "time" ? "time" : "step",
    };
  } catch {
    return { log: false, smoothing: 0, x: "step" };
  }
}

export class ChartView {
  constructor() {
    Object.assign(this, remembered());
    this.listeners = [];
  }

  /** fn(change) after each change; change names what changed: "log", "smoothing" or "x". */
  onChange(fn) { this.listeners.push(fn); }

  set(name, value) {
    if (this[name] === value) return;
    this[name] = value;
    try { localStorage.setItem(STORAGE_KEY, JSON.stringify({ log: this.log, smoothing: this.smoothing, x: this.x })); } catch { /* private mode */ }
    this.listeners.forEach((fn) => fn(name));
  }

  /** Why a chart on the time axis is drawn by step after all. */
  timeUnavailable(chart) {
    return `by step: a time axis needs every point's time (series of up to ${fmt(EXACT_TIME_LIMIT)} points; this has more)`;
  }

  /** The toolbar: a log checkbox, a smoothing slider with its value, an x-axis select. */
  toolbar() {
    const log = h("input", { type: "checkbox", id: "chart-log", checked: this.log, onchange: () => this.set("log", log.checked) });
    const shown = h("span", { class: "num", id: "chart-smoothing-value", text: this.smoothing.toFixed(2) });
    const smoothing = h("input", { type: "range", id: "chart-smoothing", min: "0", max: "0.99", step: "0.01", value: String(this.smoothing),
      "aria-label": "smoothing (EMA weight)",
      oninput: () => { shown.textContent = Number(smoothing.value).toFixed(2); this.set("smoothing", Number(smoothing.value)); } });
    const x = h("select", { id: "chart-x", "aria-label": "x axis", onchange: () => this.set("x", x.value) },
      h("option", { value: "step", text: "x: step", selected: this.x === "step" }),
      h("option", { value: "time", text: "x: time", selected: this.x === "time" }));
    return h("div", { class: "row chart-toolbar", id: "chart-toolbar" },
      h("label", { class: "row" }, log, "log scale"),
      h("label", { class: "row", title: "exponential moving average: weight of the past" }, "smoothing", smoothing, shown),
      x);
  }
}
