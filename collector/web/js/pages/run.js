/* One run (#/run/<id or name>, or the real path /runs/<id> that alert links use): header, metric charts, system metrics,
 * images, artifacts, params, environment, notes, alerts, exit info; kept current by the live connection.
 *
 * The charts (charts/lazy.js) are placeholders until they scroll into view, so a run with a thousand metric
 * keys opens at once; the toolbar above them (charts/view.js) sets log scale, smoothing and the x axis for all.
 * System metrics (kind "system": CPU, memory, GPU… as the emitter samples them) have their own grid in a section
 * of their own, collapsed until opened (its charts load only then), so they never crowd the training metrics.
 * A run in a group links to the group's page (pages/group.js).
 * Logged images (one card per key, a step slider) and the artifacts panel (files, downloads, previews, lineage)
 * come from artifacts/panel.js; an artifact event in a live frame makes it reload the run's listing.
 * Alerts read as rows (alertrows.js): rule-alert episodes with their repeats folded, and alerts raised by the run.
 */

import { API, api, isSystemMetric } from "../api.js";
import { EpisodeTable, userAlertRow, userAlertTable } from "../alertrows.js";
import { RunArtifacts } from "../artifacts/panel.js";
import { LazyCharts } from "../charts/lazy.js";
import { ChartView } from "../charts/view.js";
import { groupLink, h, refreshTimes, setView, statusBadge, timeAgo } from "../dom.js";
import { Episodes, transitionFromFrame } from "../episodes.js";
import { when } from "../format.js";

const MAX_POINTS = 1000; // per chart: the API downsamples above this, and a chart grown past 4× refetches
const TIMES_REFRESH_MS = 15000;

function alertsPanel(run) {
  const episodes = new Episodes();
  run.alerts.forEach((a) => episodes.add(a));
  const rules = new EpisodeTable({ showRun: false, id: "run-rule-alerts", empty: "No rule alerts for this run." });
  rules.set(episodes.list());
  const userBody = h("tbody", { id: "run-user-alerts" }, [...run.user_alerts].reverse().map((a) => userAlertRow(a, false)));
  const element = h("div", { class: "panel", id: "run-alerts" }, h("h2", { text: "Alerts" }), rules.element,
    h("h3", { text: "Raised by the run" }), userAlertTable(userBody, false));
  return {
    element,
    rule(ev) { if (episodes.add(transitionFromFrame(ev))) rules.set(episodes.list()); },
    user(ev) { userBody.prepend(userAlertRow({ ts: ev.ts, run_id: run.id, level: ev.level, title: ev.title, text: ev.text }, false)); },
  };
}

function kvTable(id, entries) {
  return h("table", { class: "kv", id }, h("tbody", {}, entries.map(([k, v]) => h("tr", {}, h("td", { text: k }), h("td", { text: JSON.stringify(v) })))));
}

export async function runPage(visit, ref) {
  const run = await api("/runs/" + encodeURIComponent(ref));
  const counts = Object.fromEntries(Object.entries(run.metrics || {}).map(([k, m]) => [k, m.count || 0]));
  const view = new ChartView();
  const systemKeys = new Set(Object.keys(counts).filter((k) => isSystemMetric(run.metrics[k], k)));
  const charts = new LazyCharts(visit, run.id, view, { maxPoints: MAX_POINTS, counts });
  const system = new LazyCharts(visit, run.id, view, { maxPoints: MAX_POINTS, counts, id: "system-charts" });
  const systemCount = h("span", { class: "muted" });
  const systemSection = h("details", { class: "panel", id: "system-metrics" },
    h("summary", {}, h("h2", { text: "System metrics" }), " ", systemCount), system.element);
  const showSystem = () => { systemSection.hidden = !systemKeys.size; systemCount.textContent = `${systemKeys.size} keys`; };
  const statusCell = h("span", {}, statusBadge(run.status));
  const stepCell = h("span", { class: "num", text: run.last_step ?? "–" });
  const keyFilter = h("input", { type: "text", id: "metric-filter", placeholder: "filter metrics",
    oninput: () => { charts.filter(keyFilter.value); system.filter(keyFilter.value); } });
  const notesList = h("ul", { id: "notes" }, (run.notes_log || []).map((n) => h("li", { text: n.text })));
  const tagsBox = h("div", { id: "tags" }, run.tags.map((t) => h("span", { class: "tag", text: t })));
  const alerts = alertsPanel(run);
  const artifacts = new RunArtifacts(visit, run);

  setView(
    h("div", { class: "panel" },
      h("h1", { id: "run-name", text: run.name }),
      h("div", { class: "row muted" }, statusCell, h("span", { text: `project ${run.project}` }), h("span", {}, "step ", stepCell),
        run.group ? h("span", {}, "group ", groupLink(run.group, run.project)) : null,
        h("span", { text: `id ${run.id}` }), h("span", { title: when(run.created_at) }, "started ", timeAgo(run.created_at)),
        h("a", { href: `${API}/runs/${encodeURIComponent(run.id)}/export.csv`, text: "export CSV" })),
      tagsBox,
      run.notes ? h("p", { text: run.notes }) : null),
    h("div", { class: "panel" },
      h("div", { class: "row" }, h("h2", { text: "Metrics" }), h("span", { class: "muted", text: `${Object.keys(counts).length - systemKeys.size} keys` }), keyFilter, view.toolbar()),
      charts.element),
    systemSection,
    artifacts.images.element,
    artifacts.panel,
    h("div", { class: "grid2" },
      h("div", { class: "panel" }, h("h2", { text: "Params" }), kvTable("params", Object.entries(run.params))),
      h("div", { class: "panel" }, h("h2", { text: "Environment" }), h("pre", { text: JSON.stringify(run.env, null, 2) }))),
    h("div", { class: "grid2" },
      h("div", { class: "panel" }, h("h2", { text: "Notes" }), notesList),
      alerts.element),
    run.exit_info && Object.keys(run.exit_info).length ? h("div", { class: "panel" }, h("h2", { text: "Exit" }), h("pre", { text: JSON.stringify(run.exit_info, null, 2) })) : null);

  for (const key of Object.keys(counts).sort()) (systemKeys.has(key) ? system : charts).chart(key);
  showSystem();
  visit.every(TIMES_REFRESH_MS, () => refreshTimes(document.getElementById("view")));

  visit.live({ runs: [run.id] }, (frame) => {
    for (const s of frame.series) {
      if (s.run !== run.id) continue;
      if (!systemKeys.has(s.key) && isSystemMetric(run.metrics[s.key], s.key)) { systemKeys.add(s.key); showSystem(); }
      (systemKeys.has(s.key) ? system : charts).live(s, frame.coalesced);
      const step = Math.max(...s.steps);
      if (!(step <= run.last_step)) { run.last_step = step; stepCell.textContent = String(step); }
    }
    for (const ev of frame.events) {
      if (ev.run !== run.id) continue;
      if (ev.kind === "status") statusCell.replaceChildren(statusBadge(ev.status));
      else if (ev.kind === "note") notesList.append(h("li", { text: ev.text }));
      else if (ev.kind === "tags") (ev.tags || []).forEach((t) => tagsBox.append(h("span", { class: "tag", text: t })));
      else if (ev.kind === "alert") alerts.user(ev);
      else if (ev.kind === "rule_alert") alerts.rule(ev);
      else if (ev.kind === "artifact") artifacts.changed();
    }
  });
}
