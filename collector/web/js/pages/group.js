/* A group (#/group/<name>?project=<project>): the runs sharing `group` (an Optuna study, a sweep) judged by one objective.
 *
 * Groups are named per project, as runs are: the runs table and a run's page link to the group of the
 * run's own project (?project=); without it the page gathers the group's runs from every project and
 * says which each came from. Every run of the group is read (group/load.js: pages followed by their
 * cursors), then shown as a table ranked by the objective with the best run highlighted and marked
 * (group/table.js), parallel coordinates of the searched params and the objective (charts/parallel.js),
 * and a scatter of any param against any metric (charts/scatter.js). Hovering a run in any of the three
 * highlights it in all; clicking a line or a point opens the run.
 *
 * The objective defaults to what the runs say (group/model.js: Optuna's objective and direction) and
 * can be changed; the choices live in the URL (objective=, direction=min|max, x=, y=), replaced in place
 * so a link reopens the page as it was read. "Reload" reads the group again (a sweep still running).
 */

import { ParallelChart } from "../charts/parallel.js";
import { ScatterChart } from "../charts/scatter.js";
import { h, hashQuery, runLink, setView } from "../dom.js";
import { fmt } from "../format.js";
import { groupFilter, loadGroup, MAX_RUNS } from "../group/load.js";
import { bestOf, defaultDirection, defaultObjective, MAX_AXES, metricKeys, metricValue, objectiveTones, paramKeys, paramValue, rank } from "../group/model.js";
import { GroupTable } from "../group/table.js";

function options(select, keys, chosen, empty) {
  select.replaceChildren(...(keys.length ? keys.map((k) => h("option", { value: k, text: k, selected: k === chosen })) : [h("option", { value: "", text: empty })]));
  select.disabled = !keys.length;
}

function statusCounts(runs) {
  const counts = new Map();
  for (const run of runs) counts.set(run.status, (counts.get(run.status) || 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([status, n]) => `${n} ${status}`).join(" · ");
}

/** The charts of the page, replaced as the choices change; destroying the holder destroys the current ones. */
class Slot {
  constructor(box) { this.box = box; this.chart = null; }
  set(chart, fallback) {
    if (this.chart) this.chart.destroy();
    this.chart = chart;
    this.box.replaceChildren(chart ? chart.element : fallback);
  }
  highlight(runId) { if (this.chart) this.chart.highlight(runId); }
  destroy() { this.set(null, ""); }
}

export async function groupPage(visit, name) {
  const q = hashQuery();
  const project = q.get("project") || "";
  const progress = h("div", { class: "muted", id: "group-progress", text: "reading the group's runs…" });
  const summary = h("div", { class: "row muted", id: "group-summary" });
  const header = h("div", { class: "panel" },
    h("h1", { id: "group-name" }, h("span", { class: "muted", text: "group " }), name),
    h("div", { class: "row muted" }, h("span", { text: project ? `project ${project}` : "all projects" }),
      h("a", { href: "#/?filter=" + encodeURIComponent(groupFilter(name, project)), text: "in the runs table" })),
    summary, progress);
  setView(header);

  let data = await loadGroup(name, project, { onProgress: (t) => { progress.textContent = t; }, isLeft: () => visit.left });
  if (visit.left) return;
  if (!data.runs.length) {
    progress.textContent = `No runs have group ${JSON.stringify(name)}${project ? ` in project ${JSON.stringify(project)}` : ""}.`;
    return;
  }

  const objectiveSelect = h("select", { id: "objective", "aria-label": "objective metric" });
  const directionButton = h("button", { class: "secondary", id: "direction", type: "button", title: "which way is better: lower (min) or higher (max)" });
  const xSelect = h("select", { id: "scatter-x", "aria-label": "scatter x: a param" });
  const ySelect = h("select", { id: "scatter-y", "aria-label": "scatter y: a metric" });
  const reloadButton = h("button", { class: "secondary", type: "button", text: "Reload" });
  const fixedLine = h("div", { class: "muted", id: "group-fixed" });
  const axesNote = h("span", { class: "muted", id: "parallel-note" });
  const parallel = visit.own(new Slot(h("div", { class: "parallel-slot" })));
  const scatter = visit.own(new Slot(h("div", { class: "scatter-slot" })));
  const focus = (run) => { const id = run ? run.id : null; table.highlight(id); parallel.highlight(id); scatter.highlight(id); };
  const open = (run) => { location.hash = "#/run/" + encodeURIComponent(run.id); };
  const table = new GroupTable({ onHover: focus });
  const choice = { objective: q.get("objective"), direction: q.get("direction"), x: q.get("x"), y: q.get("y") };
  let keys; // { metrics, varying, fixed } of the runs read

  function choose(runs) {
    const metrics = metricKeys(runs);
    const { varying, fixed } = paramKeys(runs);
    keys = { metrics, varying, fixed };
    if (!metrics.includes(choice.objective)) choice.objective = defaultObjective(runs);
    if (choice.direction !== "min" && choice.direction !== "max") choice.direction = choice.objective ? defaultDirection(runs, choice.objective) : "min";
    if (![...varying, ...fixed].includes(choice.x)) choice.x = varying[0] ?? fixed[0] ?? null;
    if (!metrics.includes(choice.y)) choice.y = choice.objective;
    options(objectiveSelect, metrics, choice.objective, "no metrics");
    options(xSelect, [...varying, ...fixed], choice.x, "no params");
    options(ySelect, metrics, choice.y, "no metrics");
  }

  function render() {
    const runs = data.runs;
    const { objective, direction } = choice;
    const ranked = objective ? rank(runs, objective, direction) : runs.slice();
    const best = objective ? bestOf(ranked, objective) : null;
    const tone = objective ? objectiveTones(runs, objective, direction) : () => null;
    directionButton.textContent = direction === "max" ? "max ↑ (higher is better)" : "min ↓ (lower is better)";
    directionButton.dataset.direction = direction;
    summary.replaceChildren(h("span", { text: `${runs.length} runs${data.partial ? ` (the first ${MAX_RUNS})` : ""}` }), h("span", { text: statusCounts(runs) }),
      best ? h("span", { id: "group-best" }, "best: ", runLink(best.id, best.name), ` ${objective} = ${fmt(metricValue(best, objective))}`) : null);
    fixedLine.textContent = keys.fixed.length ? "Same in every run: " + keys.fixed.map((k) => `${k} = ${JSON.stringify(paramValue(runs[0], k))}`).join(", ") : "";
    table.set({ ranked, objective: { key: objective, direction }, best, params: keys.varying, showProject: !project && new Set(runs.map((r) => r.project)).size > 1 });

    const shown = keys.varying.slice(0, MAX_AXES);
    axesNote.textContent = keys.varying.length > shown.length ? `the first ${shown.length} of ${keys.varying.length} searched params` : "";
    const axes = shown.map((k) => ({ key: k, label: k, get: (run) => paramValue(run, k) }));
    if (objective) axes.push({ key: objective, label: objective, get: (run) => metricValue(run, objective) });
    const charts = { tone, best: best ? best.id : null, onHover: focus, onOpen: open };
    parallel.set(axes.length ? new ParallelChart({ runs, axes, ...charts }) : null, h("p", { class: "muted", text: "No params or metrics to draw." }));
    const x = choice.x, y = choice.y;
    scatter.set(x && y ? new ScatterChart({ runs, ...charts, x: { key: x, label: x, get: (run) => paramValue(run, x) }, y: { key: y, label: y, get: (run) => metricValue(run, y) } }) : null,
      h("p", { class: "muted", text: "A scatter needs a param and a metric." }));
  }

  /** The choices into the URL, in place (no hashchange: the page is not reloaded). */
  function remember() {
    const params = new URLSearchParams();
    if (project) params.set("project", project);
    for (const [k, v] of Object.entries(choice)) if (v) params.set(k, v);
    history.replaceState(null, "", "#/group/" + encodeURIComponent(name) + "?" + params);
  }

  objectiveSelect.addEventListener("change", () => {
    choice.objective = objectiveSelect.value;
    choice.direction = defaultDirection(data.runs, choice.objective);
    if (choice.y === null || !keys.metrics.includes(choice.y)) choice.y = choice.objective;
    remember(); render();
  });
  directionButton.addEventListener("click", () => { choice.direction = choice.direction === "max" ? "min" : "max"; remember(); render(); });
  xSelect.addEventListener("change", () => { choice.x = xSelect.value; remember(); render(); });
  ySelect.addEventListener("change", () => { choice.y = ySelect.value; remember(); render(); });
  reloadButton.addEventListener("click", async () => {
    reloadButton.disabled = true;
    try {
      const fresh = await loadGroup(name, project, { onProgress: (t) => { progress.textContent = t; }, isLeft: () => visit.left });
      if (visit.left) return;
      data = fresh;
      choose(data.runs);
      render();
      progress.textContent = "";
    } catch (err) {
      progress.textContent = err.message;
    } finally {
      reloadButton.disabled = false;
    }
  });

  progress.textContent = "";
  header.append(h("div", { class: "row group-controls" },
    h("label", { class: "row" }, "objective", objectiveSelect), directionButton, reloadButton), fixedLine);
  setView(header,
    h("div", { class: "panel" }, h("div", { class: "row" }, h("h2", { text: "Params → objective" }), axesNote), parallel.box),
    h("div", { class: "panel" },
      h("div", { class: "row" }, h("h2", { text: "Scatter" }), h("label", { class: "row" }, "x", xSelect), h("label", { class: "row" }, "y", ySelect)),
      scatter.box),
    h("div", { class: "panel" }, h("h2", { text: "Runs by objective" }), table.element));
  choose(data.runs);
  render();
}
