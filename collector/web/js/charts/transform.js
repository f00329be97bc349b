/* What a chart draws from a series: smoothing, the log scale's domain, ordering by time. Pure functions, no DOM.
 *
 * Values are numbers or null (a gap: NaN/±Inf, or a point the scale cannot show); every function returns
 * new arrays and leaves its input as it was, so a chart can redraw the raw series with other options.
 */

/** Exponential moving average with weight `weight` in [0, 1) on the past, debiased as TensorBoard does
 * (the first points are not pulled towards 0). Gaps stay gaps and do not reset the average. */
export function ema(values, weight) {
  if (!(weight > 0)) return values.slice();
  const w = Math.min(weight, 0.999);
  const out = new Array(values.length);
  let acc = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || !Number.isFinite(v)) { out[i] = null; continue; }
    acc = acc * w + (1 - w) * v;
    n += 1;
    out[i] = acc / (1 - Math.pow(w, n));
  }
  return out;
}

/** Values a log scale can place: those ≤ 0 become gaps; `hidden` counts them so the chart can say so. */
export function positive(values) {
  let hidden = 0;
  const out = values.map((v) => {
    if (v === null) return null;
    if (v > 0) return v;
    hidden += 1;
    return null;
  });
  return { values: out, hidden };
}

/** The columns reordered by the first (uPlot wants x ascending: wall-clock time need not follow steps). */
export function sortedBy(x, ...columns) {
  const order = x.map((_, i) => i);
  let sorted = true;
  for (let i = 1; i < x.length; i++) if (x[i] < x[i - 1]) { sorted = false; break; }
  if (!sorted) order.sort((a, b) => x[a] - x[b]);
  return [order.map((i) => x[i]), ...columns.map((col) => order.map((i) => col[i]))];
}

/** How many values are drawable (not gaps). */
export function drawable(values) {
  let n = 0;
  for (const v of values) if (v !== null && v !== undefined) n += 1;
  return n;
}
