/* runwatch dashboard, the entry module: runs table, run page with live charts, compare, alerts and silences.
 *
 * Native ES modules, no build step: index.html loads vendor/uPlot.iife.min.js (a classic deferred
 * script, the global window.uPlot) and then this module, which imports the rest from js/:
 *
 *   js/dom.js        element helpers (text nodes and attributes only, never innerHTML), shared widgets
 *   js/format.js     numbers, ages and moments as the pages write them
 *   js/timeinput.js  durations and start times as a person types them
 *   js/api.js        the REST client: fetch wrapper, auth errors, "NaN"/"Infinity" numbers
 *   js/live.js       the websocket client of /api/v1/live and the live indicator
 *   js/visit.js      what one page visit started, stopped when it is left
 *   js/charts.js     uPlot charts: one run's metric (live), one metric across runs
 *   js/testhooks.js  window.RUNWATCH_TEST, the only hook the browser tests use
 *   js/router.js     hash routes → js/pages/{runs,run,compare,alerts,silences,login}.js
 *
 * Served from /static with a CSP of script-src 'self': no inline script anywhere.
 */

import { startRouter } from "./js/router.js";

startRouter();
