/* Alerts (#/alerts?state=&severity=&run=): rule-alert episodes with filters, silences, and alerts raised by runs.
 *
 * Rule alerts are folded into one row per episode (episodes.js), kept current by live frames: a transition
 * the collector commits joins its episode (or opens one) the moment it is published. The filters narrow
 * the rows in place and are written to the URL (replaceState: no reload), so a filtered view can be shared.
 */

import { api } from "../api.js";
import { EpisodeTable, userAlertRow, userAlertTable } from "../alertrows.js";
import { h, hashQuery, refreshTimes, setView } from "../dom.js";
import { Episodes, episodeState, transitionFromFrame } from "../episodes.js";
import { silencesPanel } from "./silences.js";

const HISTORY_LIMIT = 5000; // transitions loaded: repeats fold away, so this is many episodes
const TIMES_REFRESH_MS = 15000;

function select(id, label, options, value) {
  const el = h("select", { id, "aria-label": label },
    options.map(([v, text]) => h("option", { value: v, text, selected: v === value })));
  return el;
}

/** The filter bar: state, severity, run; onChange() after each change, current() for the values. */
function filterBar(query, episodes, onChange) {
  const severities = [...new Set(episodes.map((e) => e.severity).filter(Boolean))].sort();
  const runs = new Map(episodes.map((e) => [e.runId, e.runName || e.runId]));
  const wantedRun = query.get("run") || "";
  if (wantedRun && !runs.has(wantedRun)) runs.set(wantedRun, wantedRun);
  const controls = {
    state: select("alert-state", "state", [["", "any state"], ["firing", "firing"], ["resolved", "resolved"]], query.get("state") || ""),
    severity: select("alert-severity", "severity", [["", "any severity"], ...severities.map((s) => [s, s])], query.get("severity") || ""),
    run: select("alert-run", "run", [["", "any run"], ...[...runs].sort((a, b) => a[1].localeCompare(b[1]))], wantedRun),
  };
  for (const control of Object.values(controls)) control.addEventListener("change", onChange);
  const current = () => Object.fromEntries(Object.entries(controls).map(([name, el]) => [name, el.value]));
  return { element: h("div", { class: "row", id: "alert-filters" }, controls.state, controls.severity, controls.run), current };
}

function matches(episode, wanted) {
  return (!wanted.state || episodeState(episode) === wanted.state) && (!wanted.severity || episode.severity === wanted.severity)
    && (!wanted.run || episode.runId === wanted.run);
}

function writeQuery(wanted) {
  const params = new URLSearchParams(Object.entries(wanted).filter(([, v]) => v));
  history.replaceState(null, "", "#/alerts" + (params.toString() ? "?" + params : ""));
}

export async function alertsPage(visit) {
  const data = await api(`/alerts?limit=${HISTORY_LIMIT}`);
  const episodes = new Episodes();
  data.alerts.forEach((a) => episodes.add(a));
  const rules = new EpisodeTable({ showRun: true, id: "rule-alerts" });
  const count = h("span", { class: "muted", id: "rule-alerts-count" });
  const render = () => {
    const all = episodes.list();
    const shown = all.filter((e) => matches(e, filters.current()));
    rules.set(shown);
    count.textContent = `${shown.length} of ${all.length} episodes, ${data.alerts.length} transitions`;
  };
  const filters = filterBar(hashQuery(), episodes.list(), () => { writeQuery(filters.current()); render(); });
  render();
  const userBody = h("tbody", { id: "user-alerts" }, data.user_alerts.map((a) => userAlertRow(a)));
  setView(
    h("div", { class: "panel" }, h("div", { class: "row" }, h("h2", { text: "Rule alerts" }), count), filters.element, rules.element),
    silencesPanel(visit),
    h("div", { class: "panel" }, h("h2", { text: "Alerts raised by runs" }), userAlertTable(userBody)));
  visit.every(TIMES_REFRESH_MS, () => refreshTimes(document.getElementById("view")));
  visit.live({}, (frame) => {
    let changed = false;
    for (const ev of frame.events) {
      if (ev.kind === "alert") userBody.prepend(userAlertRow({ ts: ev.ts, run_id: ev.run, run_name: null, level: ev.level, title: ev.title, text: ev.text }));
      else if (ev.kind === "rule_alert") changed = episodes.add(transitionFromFrame(ev)) || changed;
    }
    if (changed) render();
  });
}
