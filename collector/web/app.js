/* runwatch dashboard, the entry module: runs table, run page with live charts, images and artifacts, groups (studies, sweeps),
 * compare, alerts and silences, artifact search.
 *
 * Native ES modules, no build step: index.html loads vendor/uPlot.iife.min.js (a classic deferred
 * script, the global window.uPlot) and then this module, which imports the rest from js/:
 *
 *   js/dom.js          element helpers (text nodes and attributes only, never innerHTML), shared widgets
 *   js/format.js       numbers, ages, "3 min ago" and axis ticks as the pages write them
 *   js/timeinput.js    durations and start times as a person types them
 *   js/api.js          the REST client: fetch wrapper, auth errors, "NaN"/"Infinity" numbers
 *   js/live.js         the websocket client of /api/v1/live and the live indicator
 *   js/visit.js        what one page visit started, stopped when it is left
 *   js/episodes.js     rule-alert transitions folded into one episode each (repeats counted, not listed)
 *   js/alertrows.js    alerts as readable rows: episodes, and alerts raised by runs
 *   js/charts/         uPlot charts: metric.js (one run's metric, live), overlay.js (one metric across runs),
 *                      lazy.js (a run's grid: a chart loads and draws only once in view), view.js (log, smoothing,
 *                      x axis), axes.js (scales, axes sized to their labels), transform.js (EMA, log domain);
 *                      and SVG ones of our own for groups: parallel.js (parallel coordinates), scatter.js,
 *                      scale.js (numeric, log and categorical axes, the missing slot), svg.js (elements, colours)
 *   js/group/          a group's runs: load.js (every page of them), model.js (objective, direction, params,
 *                      ranking, best), table.js (the ranked table)
 *   js/artifacts/      a run's artifacts: panel.js (the tree of files, downloads, lineage, rejections; reloads after live
 *                      events), images.js (logged images per key, a step slider), preview.js (text, JSON, CSV, inline
 *                      images, read with a Range request), csv.js (a small CSV reader), model.js (paths, grouping, kinds)
 *   js/testhooks.js    window.RUNWATCH_TEST, the only hook the browser tests use
 *   js/router.js       hash routes (and the real paths /runs/<id> alert links use) → js/pages/*.js
 *
 * Served from /static with a CSP of script-src 'self': no inline script anywhere.
 */

import { startRouter } from "./js/router.js";

startRouter();
