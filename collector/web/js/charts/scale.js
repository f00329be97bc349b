/* One axis of the group page's charts: where a param's or a metric's value sits, and the ticks to draw.
 *
 * An axis is numeric when every value present is a finite number (log when they are all positive and span
 * at least two decades, as a learning rate searched on a log scale does), else categorical: each distinct
 * value (strings, booleans, lists) gets an evenly spaced place, numbers first in order, then by label.
 * A run missing the value (or with NaN/±Inf) is not dropped: on an axis that keeps a missing slot it sits
 * at the bottom, labelled "missing", under a small gap. Positions are fractions, 0 at the bottom (or the left)
 * and 1 at the top; the chart maps them to pixels. Pure code, no DOM.
 */

import { tick } from "../format.js";

const MISSING_GAP = 0.1; // the part of the axis below its values that holds the missing slot
const LOG_SPAN = 100; // max / min from which an all-positive numeric axis is drawn on a log scale
const MAX_CATEGORY_TICKS = 24;

/** A value an axis can place: null/undefined and non-finite numbers are missing. */
export function present(v) {
  return v !== null && v !== undefined && (typeof v !== "number" || Number.isFinite(v));
}

/** A categorical value's label (strings as they are, anything else as JSON). */
export function label(v) {
  return typeof v === "string" ? v : JSON.stringify(v);
}

function categoryOrder(a, b) {
  const na = typeof a === "number", nb = typeof b === "number";
  if (na && nb) return a - b;
  if (na !== nb) return na ? -1 : 1;
  return label(a).localeCompare(label(b));
}

/** About `count` round numbers across [min, max]; whole ones only when the values are (layers, batch sizes). */
function linearTicks(min, max, integers, count = 5) {
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  const round = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * power;
  const step = integers ? Math.max(round, 1) : round;
  const out = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

/** Powers of ten inside [min, max] (thinned to about 6), or the ends when the span holds fewer than two. */
function logTicks(min, max) {
  const out = [];
  for (let e = Math.ceil(Math.log10(min) - 1e-9); e <= Math.floor(Math.log10(max) + 1e-9); e++) out.push(10 ** e);
  const every = Math.ceil(out.length / 6);
  const thinned = out.filter((_, i) => i % every === 0);
  return thinned.length >= 2 ? thinned : [min, max];
}

/**
 * The scale of one axis over `values` (one per run, any of them missing).
 * missingSlot: keep a place for missing values (parallel coordinates) or leave them out (scatter).
 * Returns { kind: "numeric" | "categorical", log, hasMissing, categories, pos(v) → 0..1 or null, ticks: [{ at, label }] }.
 */
export function makeScale(values, { missingSlot = true } = {}) {
  const known = values.filter(present);
  const hasMissing = missingSlot && known.length < values.length;
  const lo = hasMissing ? MISSING_GAP : 0; // where the values start
  const place = (f) => lo + f * (1 - lo);
  const numeric = known.length > 0 && known.every((v) => typeof v === "number");
  let scale;
  if (numeric) {
    let min = Infinity, max = -Infinity;
    for (const v of known) { if (v < min) min = v; if (v > max) max = v; }
    const log = min > 0 && max / min >= LOG_SPAN;
    const t = log ? Math.log10 : (v) => v;
    const [a, b] = [t(min), t(max)];
    const frac = (v) => (a === b ? 0.5 : (t(v) - a) / (b - a));
    const values = min === max ? [min] : log ? logTicks(min, max) : linearTicks(min, max, known.every(Number.isInteger));
    scale = { kind: "numeric", log, min, max, categories: [],
      pos: (v) => (present(v) && typeof v === "number" ? place(frac(v)) : null),
      ticks: values.map((v) => ({ at: place(frac(v)), label: tick(v) })) };
  } else {
    const byLabel = new Map();
    for (const v of known) if (!byLabel.has(label(v))) byLabel.set(label(v), v);
    const categories = [...byLabel.values()].sort(categoryOrder).map(label);
    const index = new Map(categories.map((c, i) => [c, i]));
    const frac = (i) => (categories.length === 1 ? 0.5 : i / (categories.length - 1));
    const every = Math.ceil(categories.length / MAX_CATEGORY_TICKS);
    scale = { kind: "categorical", log: false, categories,
      pos: (v) => (present(v) && index.has(label(v)) ? place(frac(index.get(label(v)))) : null),
      ticks: categories.map((c, i) => ({ at: place(frac(i)), label: c })).filter((_, i) => i % every === 0) };
  }
  scale.hasMissing = hasMissing;
  if (hasMissing) scale.ticks.push({ at: 0, label: "missing", missing: true });
  /** Where a value sits, the missing slot (0) for a missing one when the axis keeps it, else null. */
  scale.place = (v) => { const p = scale.pos(v); return p === null && hasMissing ? 0 : p; };
  return scale;
}
