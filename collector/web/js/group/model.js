/* What the group page reads from its runs: the objective and its direction, the params worth an axis, the ranking, the best run.
 *
 * A group is any set of runs sharing `group` (an Optuna study, a sweep). Optuna's callback
 * (emitter/integrations/optuna.py) records the objective as a metric (`value` unless renamed),
 * the direction in the param `optuna.direction`, and the study's best value so far in
 * `optuna.best_value`; its other `optuna.*` params are facts about the trial, not searched params.
 * The default objective, in order: a param `optuna.objective` naming it; the metric whose value is
 * the best run's `optuna.best_value`; a metric named `value`; the metric most runs have (training
 * metrics before system ones). Pure code, no DOM.
 */

import { isSystemMetric, num } from "../api.js";
import { makeScale, present } from "../charts/scale.js";

const OPTUNA_FACT = /^optuna\.(?!user_attrs\.)/; // the callback's facts (study, trial, state, direction, best_*…)
const HIGHER_IS_BETTER = /acc|auc|f1|precision|recall|score|reward|return|iou|map|bleu|rouge|r2|sharpe|win/i;
export const MAX_AXES = 16; // params drawn as axes at most (the table lists them all)

/** A metric's latest value as a number (NaN, ±Infinity included); undefined when the run has none. */
export function metricValue(run, key) {
  const m = run.metrics && run.metrics[key];
  return m ? num(m.last) : undefined;
}

/** A param's value; undefined when the run has none. */
export function paramValue(run, key) {
  return run.params && key in run.params ? run.params[key] : undefined;
}

/** Metric keys of the group, training metrics first, each part by how many runs have it, then by name. */
export function metricKeys(runs) {
  const count = new Map(), system = new Set();
  for (const run of runs) for (const key of Object.keys(run.metrics || {})) {
    count.set(key, (count.get(key) || 0) + 1);
    if (isSystemMetric(run.metrics[key], key)) system.add(key);
  }
  return [...count.keys()].sort((a, b) => (system.has(a) - system.has(b)) || count.get(b) - count.get(a) || a.localeCompare(b));
}

/**
 * Params of the group: `varying` (the searched ones: two values or more, or missing from some runs) and
 * `fixed` (one value in every run), both by name, Optuna's facts left out.
 */
export function paramKeys(runs) {
  const seen = new Map(); // key → { values: Set of JSON, runs: count }
  for (const run of runs) for (const [key, value] of Object.entries(run.params || {})) {
    if (OPTUNA_FACT.test(key)) continue;
    const slot = seen.get(key) || { values: new Set(), runs: 0 };
    slot.values.add(JSON.stringify(value));
    slot.runs += 1;
    seen.set(key, slot);
  }
  const keys = [...seen.keys()].sort();
  const varies = (k) => seen.get(k).values.size > 1 || seen.get(k).runs < runs.length;
  return { varying: keys.filter(varies), fixed: keys.filter((k) => !varies(k)) };
}

/** "min" or "max" for a metric: Optuna's recorded direction (per objective of a multi-objective study), else its name. */
export function defaultDirection(runs, key) {
  const recorded = runs.map((r) => paramValue(r, "optuna.direction")).find((d) => typeof d === "string");
  if (recorded) {
    const directions = recorded.split(",");
    const nth = /_(\d+)$/.exec(key);
    const d = directions.length > 1 && nth ? directions[Number(nth[1])] : directions[0];
    if (d === "maximize" || d === "minimize") return d === "maximize" ? "max" : "min";
  }
  return HIGHER_IS_BETTER.test(key) ? "max" : "min";
}

/** The metric the group is judged by (see the module comment); null when no run has a metric. */
export function defaultObjective(runs) {
  const keys = metricKeys(runs);
  const has = new Set(keys);
  const named = runs.map((r) => paramValue(r, "optuna.objective")).find((k) => typeof k === "string" && has.has(k));
  if (named) return named;
  for (const run of runs) {
    const best = num(paramValue(run, "optuna.best_value"));
    if (!(run.tags || []).includes("best") || typeof best !== "number") continue;
    const match = Object.keys(run.metrics || {}).find((k) => metricValue(run, k) === best);
    if (match) return match;
  }
  if (has.has("value")) return "value";
  return keys[0] ?? null;
}

/** The runs from best to worst by the objective; runs without a finite value come last, by name. */
export function rank(runs, key, direction) {
  const sign = direction === "max" ? -1 : 1;
  const value = (run) => { const v = metricValue(run, key); return present(v) ? v : null; };
  return runs.slice().sort((a, b) => {
    const va = value(a), vb = value(b);
    if (va === null || vb === null) return (va === null) - (vb === null) || a.name.localeCompare(b.name);
    return sign * (va - vb) || a.name.localeCompare(b.name);
  });
}

/** The best run of a ranking (its first, when that one has a finite objective), else null. */
export function bestOf(ranked, key) {
  return ranked.length && present(metricValue(ranked[0], key)) ? ranked[0] : null;
}

/** run → how good its objective is among the group's, 0 (worst) … 1 (best) on the objective's scale; null without one. */
export function objectiveTones(runs, key, direction) {
  const scale = makeScale(runs.map((r) => metricValue(r, key)), { missingSlot: false });
  return (run) => {
    const at = scale.pos(metricValue(run, key));
    return at === null ? null : direction === "max" ? at : 1 - at;
  };
}
