/* The runs of a group, every one of them: pages of GET /api/v1/runs followed by their cursors, completed where a page cut a run short.
 *
 * A page of runs carries at most 32 params and 32 latest metrics per run (by name). A run with more
 * (a sweep logging many metrics, system metrics included) may lack the objective or a searched param in
 * its page, so such runs are read again whole (GET /api/v1/runs/{id}, a few at a time), which also
 * gives each metric's kind. Pages go oldest first (the API breaks ties by id), so runs a live sweep adds meanwhile
 * join the end and the offsets of the cursor never skip one.
 */

import { api } from "../api.js";

const PAGE = 500; // runs per request (the API allows up to 1000)
export const MAX_RUNS = 5000; // a group larger than this is shown in part, and says so
const LIST_KEYS = 32; // params and metrics a page carries per run (collector/store/sqlite/runs.py MAX_LIST_KEYS)
const PARALLEL_READS = 4;

/** A filter literal: the text quoted as the filter grammar reads it (collector/store/search.py), so any name is safe. */
export function quoted(text) {
  return "'" + String(text).replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "'";
}

/** The filter of a group's runs, in one project or across all of them. */
export function groupFilter(name, project) {
  return `group = ${quoted(name)}` + (project ? ` and project = ${quoted(project)}` : "");
}

/** Did its page leave out some of this run's params or metrics? */
function cutShort(run) {
  return (run.metric_count || 0) > Object.keys(run.metrics || {}).length || Object.keys(run.params || {}).length >= LIST_KEYS;
}

/** Read every run of the group; onProgress(text) hears how far it got; isLeft() stops the reads early (the page was left).
 * Resolves to { runs, now, partial } (partial: more than MAX_RUNS). */
export async function loadGroup(name, project, { onProgress = () => {}, isLeft = () => false } = {}) {
  const filter = groupFilter(name, project);
  const runs = [];
  let cursor = null, now = Date.now() / 1000, partial = false;
  do {
    const params = new URLSearchParams({ filter, sort: "created_at asc", limit: String(PAGE) });
    if (cursor) params.set("cursor", cursor);
    const page = await api("/runs?" + params);
    if (isLeft()) return { runs, now, partial };
    runs.push(...page.runs);
    now = page.now;
    cursor = page.next_cursor;
    if (cursor) onProgress(`read ${runs.length} runs…`);
    if (runs.length >= MAX_RUNS) { partial = !!cursor; runs.length = MAX_RUNS; break; }
  } while (cursor);
  await complete(runs.filter(cutShort), { onProgress, isLeft });
  return { runs, now, partial };
}

/** Replace the params and metrics of these runs with their details' (all of them), PARALLEL_READS at a time. */
async function complete(short, { onProgress, isLeft }) {
  let next = 0, done = 0;
  async function worker() {
    while (next < short.length && !isLeft()) {
      const run = short[next++];
      try {
        const detail = await api("/runs/" + encodeURIComponent(run.id));
        run.params = detail.params;
        run.metrics = detail.metrics;
      } catch { /* keep what its page said: a run removed meanwhile, or a failed read, still shows */ }
      done += 1;
      onProgress(`read ${done} of ${short.length} runs with more params or metrics than a page holds…`);
    }
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL_READS, short.length) }, worker));
}
