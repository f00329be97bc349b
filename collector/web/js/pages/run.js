/* One run (#/run/<id or name>): header, a live chart per metric, params, environment, notes, alerts, exit info. */

import { API, api } from "../api.js";
import { MetricChart } from "../charts.js";
import { h, setView, statusBadge } from "../dom.js";
import { when } from "../format.js";

const MAX_POINTS = 1000; // per chart: the API downsamples above this, and a chart grown past 4× refetches

export async function runPage(visit, ref) {
  const run = await api("/runs/" + encodeURIComponent(ref));
  const metrics = await api(`/runs/${encodeURIComponent(run.id)}/metrics?max_points=${MAX_POINTS}`);
  const statusCell = h("span", {}, statusBadge(run.status));
  const stepCell = h("span", { class: "num", text: run.last_step ?? "–" });
  const charts = new Map();
  const chartGrid = h("div", { class: "charts", id: "charts" });
  const keyFilter = h("input", { type: "text", placeholder: "filter metrics", oninput: () => {
    const needle = keyFilter.value.toLowerCase();
    for (const [key, chart] of charts) chart.box.hidden = needle && !key.toLowerCase().includes(needle);
  } });
  const notesList = h("ul", { id: "notes" }, (run.notes_log || []).map((n) => h("li", { text: n.text })));
  const tagsBox = h("div", { id: "tags" }, run.tags.map((t) => h("span", { class: "tag", text: t })));
  const alertsList = h("ul", { id: "run-alerts" },
    run.user_alerts.map((a) => h("li", {}, h("b", { text: `[${a.level}] ${a.title}` }), " ", a.text)),
    run.alerts.map((a) => h("li", { text: JSON.stringify(a) })));

  function addChart(key, data) {
    const chart = visit.own(new MetricChart(key, data));
    charts.set(key, chart);
    chartGrid.append(chart.box);
    return chart;
  }

  setView(
    h("div", { class: "panel" },
      h("h1", { id: "run-name", text: run.name }),
      h("div", { class: "row muted" }, statusCell, h("span", { text: `project ${run.project}` }), h("span", {}, "step ", stepCell),
        h("span", { text: `id ${run.id}` }), h("span", { text: `started ${when(run.created_at)}` }),
        h("a", { href: `${API}/runs/${encodeURIComponent(run.id)}/export.csv`, text: "export CSV" })),
      tagsBox,
      run.notes ? h("p", { text: run.notes }) : null),
    h("div", { class: "panel" }, h("div", { class: "row" }, h("h2", { text: "Metrics" }), keyFilter), chartGrid),
    h("div", { class: "grid2" },
      h("div", { class: "panel" }, h("h2", { text: "Params" }),
        h("table", { class: "kv", id: "params" }, h("tbody", {}, Object.entries(run.params).map(([k, v]) => h("tr", {}, h("td", { text: k }), h("td", { text: JSON.stringify(v) })))))),
      h("div", { class: "panel" }, h("h2", { text: "Environment" }), h("pre", { text: JSON.stringify(run.env, null, 2) }))),
    h("div", { class: "grid2" },
      h("div", { class: "panel" }, h("h2", { text: "Notes" }), notesList),
      h("div", { class: "panel" }, h("h2", { text: "Alerts" }), alertsList)),
    run.exit_info && Object.keys(run.exit_info).length ? h("div", { class: "panel" }, h("h2", { text: "Exit" }), h("pre", { text: JSON.stringify(run.exit_info, null, 2) })) : null);

  for (const [key, data] of Object.entries(metrics.series)) addChart(key, data);

  async function reload(key) {
    const data = await api(`/runs/${encodeURIComponent(run.id)}/metrics?max_points=${MAX_POINTS}&keys=${encodeURIComponent(key)}`);
    if (data.series[key]) charts.get(key).load(data.series[key]);
  }

  visit.live({ runs: [run.id] }, (frame) => {
    for (const s of frame.series) {
      if (s.run !== run.id) continue;
      const chart = charts.get(s.key) || addChart(s.key, { steps: [], values: [] });
      if (frame.coalesced || chart.x.length > 4 * MAX_POINTS) { reload(s.key); continue; } // refetch, downsampled
      chart.append(s.steps, s.values);
      const step = Math.max(...s.steps);
      if (!(step <= run.last_step)) { run.last_step = step; stepCell.textContent = String(step); }
    }
    for (const ev of frame.events) {
      if (ev.run !== run.id) continue;
      if (ev.kind === "status") statusCell.replaceChildren(statusBadge(ev.status));
      else if (ev.kind === "note") notesList.append(h("li", { text: ev.text }));
      else if (ev.kind === "tags") (ev.tags || []).forEach((t) => tagsBox.append(h("span", { class: "tag", text: t })));
      else if (ev.kind === "alert") alertsList.prepend(h("li", {}, h("b", { text: `[${ev.level}] ${ev.title}` }), " ", ev.text || ""));
      else if (ev.kind === "rule_alert") alertsList.prepend(h("li", {}, h("b", { text: `[${ev.severity}] ${ev.rule} ${ev.state}` }), " ", ev.title || ""));
    }
  });
}
