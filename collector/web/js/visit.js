/* One visit of a page: what it started (a live connection, charts, timers, delayed reloads), so that leaving it stops all of it.
 *
 * The router makes a Visit for each route and calls leave() before the next; a page never keeps
 * a connection or a timer in module state. What a page starts after its visit was left (a slow
 * load losing a navigation race) is not started, or stopped at once, instead of outliving the page.
 */

import { Live } from "./live.js";

export class Visit {
  /** onAuthNeeded(): what to do when the live connection is refused for want of a token. */
  constructor(onAuthNeeded) {
    this.onAuthNeeded = onAuthNeeded;
    this.left = false;
    this.connection = null;
    this.charts = [];
    this.timers = [];
    this.timeouts = new Set();
  }

  /** Open this visit's live connection (one per visit; a second replaces the first). */
  live(subscription, onFrame) {
    if (this.left) return null;
    if (this.connection) this.connection.close();
    this.connection = new Live(subscription, onFrame, this.onAuthNeeded);
    return this.connection;
  }

  /** Destroy this chart (anything with destroy()) when the visit ends. */
  own(chart) {
    if (this.left) chart.destroy();
    else this.charts.push(chart);
    return chart;
  }

  /** setInterval(fn, ms) for as long as the visit lasts; returns the timer id (0: none, the visit is over). */
  every(ms, fn) {
    if (this.left) return 0;
    const timer = setInterval(fn, ms);
    this.timers.push(timer);
    return timer;
  }

  /** setTimeout(fn, ms), cancelled if the visit ends first; returns the timer id (0: none, the visit is over). */
  after(ms, fn) {
    if (this.left) return 0;
    const timer = setTimeout(() => { this.timeouts.delete(timer); fn(); }, ms);
    this.timeouts.add(timer);
    return timer;
  }

  leave() {
    this.left = true;
    if (this.connection) this.connection.close();
    this.connection = null;
    this.charts.forEach((c) => c.destroy());
    this.charts = [];
    this.timers.forEach((t) => clearInterval(t));
    this.timers = [];
    this.timeouts.forEach((t) => clearTimeout(t));
    this.timeouts.clear();
  }
}
