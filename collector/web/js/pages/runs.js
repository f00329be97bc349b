/* The runs table (#/): filter and sort through the URL, paging, compare selection, rows kept current by live frames.
 * A run's group links to the group's page (pages/group.js). */

import { api, AuthNeeded, num } from "../api.js";
import { groupLink, h, hashQuery, runLink, setView, statusBadge } from "../dom.js";
import { age, fmt } from "../format.js";

const SORTS = ["created_at desc", "created_at asc", "last_event_at desc", "name asc", "status asc"];
const DEFAULT_SORT = SORTS[0];
const PAGE_SIZE = "50";
const COLUMNS = ["", "name", "project", "group", "status", "step", "age", "latest metrics", "tags"];

function metricChips(metrics) {
  return Object.entries(metrics || {}).slice(0, 4).map(([k, m]) =>
    h("span", { class: "metric-chip", dataset: { key: k } }, h("b", { text: k + " " }), h("span", { text: fmt(m.last) })));
}

export async function runsPage(visit) {
  const q = hashQuery();
  const filterInput = h("input", { type: "text", class: "filter", id: "filter", placeholder: "filter: params.lr = 0.01 and metrics.val/acc > 0.9 or tags.baseline", value: q.get("filter") || "" });
  const sortSelect = h("select", { id: "sort" },
    SORTS.map((s) => h("option", { value: s, text: s, selected: (q.get("sort") || DEFAULT_SORT) === s })));
  const errorLine = h("div", { class: "error", id: "filter-error" });
  const compareButton = h("button", { class: "secondary", disabled: true, text: "Compare selected" });
  const tbody = h("tbody", { id: "runs-body" });
  const more = h("button", { class: "secondary", text: "More", hidden: true });
  const selected = new Set();
  const rows = new Map(); // run id → { run, tr, cells }
  let skew = 0; // this browser's clock minus the server's
  let cursor = null;

  const apply = () => {
    const params = new URLSearchParams();
    if (filterInput.value.trim()) params.set("filter", filterInput.value.trim());
    if (sortSelect.value !== DEFAULT_SORT) params.set("sort", sortSelect.value);
    const target = "#/" + (params.toString() ? "?" + params : "");
    if (location.hash === target) load(false); else location.hash = target;
  };
  filterInput.addEventListener("keydown", (e) => { if (e.key === "Enter") apply(); });
  sortSelect.addEventListener("change", apply);
  compareButton.addEventListener("click", () => { location.hash = "#/compare?runs=" + encodeURIComponent([...selected].join(",")); });
  more.addEventListener("click", () => load(true));

  setView(
    h("div", { class: "panel" },
      h("div", { class: "row" }, filterInput, sortSelect, h("button", { text: "Apply", onclick: apply }), compareButton),
      errorLine),
    h("div", { class: "panel" },
      h("table", { id: "runs-table" },
        h("thead", {}, h("tr", {}, COLUMNS.map((t) => h("th", { text: t })))),
        tbody),
      more));

  function renderRow(run) {
    const box = h("input", { type: "checkbox", onchange: (e) => { e.target.checked ? selected.add(run.id) : selected.delete(run.id); compareButton.disabled = selected.size < 1; } });
    const cells = {
      status: h("td", {}, statusBadge(run.status)),
      step: h("td", { class: "num", text: run.last_step ?? "–" }),
      age: h("td", { class: "num", text: age(run.last_event_at || run.updated_at, skew) }),
      metrics: h("td", {}, metricChips(run.metrics)),
    };
    const tr = h("tr", { dataset: { run: run.id } },
      h("td", {}, box),
      h("td", { class: "name" }, runLink(run.id, run.name)),
      h("td", { text: run.project }),
      h("td", { class: "group" }, groupLink(run.group, run.project)),
      cells.status, cells.step, cells.age, cells.metrics,
      h("td", {}, (run.tags || []).map((t) => h("span", { class: "tag", text: t }))));
    rows.set(run.id, { run, tr, cells });
    return tr;
  }

  async function load(next) {
    errorLine.textContent = "";
    const params = new URLSearchParams({ limit: PAGE_SIZE });
    if (filterInput.value.trim()) params.set("filter", filterInput.value.trim());
    params.set("sort", sortSelect.value);
    if (next && cursor) params.set("cursor", cursor);
    let data;
    try {
      data = await api("/runs?" + params);
    } catch (err) {
      if (err instanceof AuthNeeded) throw err;
      const pos = err.detail && err.detail.position; // a filter syntax error points at its column
      errorLine.textContent = err.message + (pos !== undefined ? `\n${filterInput.value}\n${" ".repeat(pos)}^` : "");
      return;
    }
    skew = Date.now() / 1000 - data.now;
    if (!next) { tbody.replaceChildren(); rows.clear(); }
    data.runs.forEach((run) => tbody.append(renderRow(run)));
    cursor = data.next_cursor;
    more.hidden = !cursor;
    if (!data.runs.length && !next) tbody.append(h("tr", {}, h("td", { colspan: COLUMNS.length, class: "muted", text: "No runs match. Start one with emitter.init(project=...)." })));
  }

  let reloadTimer = 0;
  function onFrame(frame) {
    const now = Date.now() / 1000 - skew;
    for (const s of frame.series) {
      const row = rows.get(s.run);
      if (!row) continue;
      const metrics = (row.run.metrics = row.run.metrics || {});
      metrics[s.key] = { last: num(s.values[s.values.length - 1]), step: s.steps[s.steps.length - 1] };
      const step = Math.max(...s.steps);
      if (row.run.last_step === null || row.run.last_step === undefined || step > row.run.last_step) row.run.last_step = step;
      row.run.last_event_at = now;
      row.cells.step.textContent = String(row.run.last_step);
      row.cells.metrics.replaceChildren(...metricChips(metrics));
    }
    for (const run of frame.heartbeats) { const row = rows.get(run); if (row) row.run.last_event_at = now; }
    for (const ev of frame.events) {
      const row = rows.get(ev.run);
      if (ev.kind === "status" && row) { row.run.status = ev.status; row.cells.status.replaceChildren(statusBadge(ev.status)); }
      if (ev.kind === "run.start" && !row && !reloadTimer) reloadTimer = setTimeout(() => { reloadTimer = 0; load(false); }, 500);
    }
  }

  await load(false);
  visit.live({}, onFrame);
  visit.every(1000, () => {
    for (const { run, cells } of rows.values()) cells.age.textContent = age(run.last_event_at || run.updated_at, skew);
  });
}
