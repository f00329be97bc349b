/* Scales and axes for uPlot: labels sized to fit, ticks written as people read them, a log or linear y.
 *
 * uPlot's default y axis is 50 px wide whatever its labels say, so "500,000" lost its first digit. Here
 * each axis measures the labels it is about to draw (with its own font) and takes that much room, plus
 * its ticks and gap. A scale whose data is one value gets a range around it, so a single point shows.
 */

import { tick } from "../format.js";

/** A CSS custom property of the page (the charts follow the light/dark palette). */
export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

const LABEL_MARGIN = 6; // px kept free beyond the widest label, so antialiasing never touches the edge

/** A uPlot axis `size` callback: room for the widest label (measured), its ticks and gap. */
function fitLabels() {
  let settled = 0;
  return (u, values, axisIdx, cycleNum) => {
    const axis = u.axes[axisIdx];
    if (cycleNum > 1 && settled) return settled; // uPlot re-asks while the layout settles: stop growing
    let widest = 0;
    if (values && values.length) {
      u.ctx.font = axis.font[0];
      for (const label of values) if (label) widest = Math.max(widest, u.ctx.measureText(String(label)).width);
    }
    const ticks = axis.ticks && axis.ticks.show !== false ? axis.ticks.size || 0 : 0;
    settled = Math.ceil(widest / (window.devicePixelRatio || 1) + ticks + (axis.gap || 0) + LABEL_MARGIN);
    return settled;
  };
}

/** Tick labels for a numeric axis; onLabels(labels) hears what is drawn (the chart keeps it in data-*-ticks). */
function numericValues(onLabels) {
  return (u, splits) => {
    const labels = splits.map((v) => (v === null ? null : tick(v)));
    if (onLabels) onLabels(labels.filter(Boolean));
    return labels;
  };
}

/** x then y axis: { time: x is Unix seconds, onYLabels, onXLabels }. */
export function axes({ time = false, onXLabels, onYLabels } = {}) {
  const stroke = cssVar("--muted");
  const grid = { stroke: cssVar("--border"), width: 1 };
  const x = { stroke, grid, ticks: grid };
  if (!time) x.values = numericValues(onXLabels);
  return [x, { stroke, grid, ticks: grid, size: fitLabels(), values: numericValues(onYLabels) }];
}

/** A range that never collapses: one x value (or one time) gets room on both sides. */
function paddedRange(pad) {
  return (u, min, max) => (min === null || max === null ? [0, 1] : min === max ? [min - pad, max + pad] : [min, max]);
}

/** Scales: x by step (or by time), y linear or log (base 10). */
export function scales({ time = false, log = false } = {}) {
  return {
    x: { time, range: paddedRange(time ? 60 : 1) },
    y: log ? { distr: 3, log: 10 } : { distr: 1 },
  };
}

/** Series points: drawn when a series has few points in view (a single point has no line to show it). */
export const FEW_POINTS = 60;
export function fewPoints(u, seriesIdx, idx0, idx1) {
  return idx1 - idx0 < FEW_POINTS;
}
