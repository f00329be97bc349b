/* The group page's table: its runs ranked by the objective, the best one highlighted and marked, the searched params beside it.
 *
 * One row per run (tr[data-run], data-rank), best first; a run without the objective comes last,
 * unranked. Hovering a row tells the page (onHover), which highlights that run in the charts; the
 * charts' hover highlights the row back (highlight). Every value reaches the page as text (dom.js).
 */

import { h, runLink, statusBadge } from "../dom.js";
import { fmt } from "../format.js";
import { label, present } from "../charts/scale.js";
import { metricValue, paramValue } from "./model.js";

function cell(v) {
  if (v === undefined) return h("td", { class: "muted", text: "–" });
  return h("td", { class: typeof v === "number" ? "num" : "", text: typeof v === "number" ? fmt(v) : label(v) });
}

export class GroupTable {
  /** onHover(run or null): the pointer is over a run's row (or left the table). */
  constructor({ onHover = () => {} } = {}) {
    this.onHover = onHover;
    this.rows = new Map(); // run id → tr
    this.hovered = null;
    this.head = h("thead", {});
    this.body = h("tbody", { id: "group-runs-body" });
    this.element = h("div", { class: "scroll-x" }, h("table", { id: "group-runs", class: "group-runs", onmouseleave: () => this.onHover(null) }, this.head, this.body));
  }

  /** Redraw: ranked runs (rank() of model.js), the objective { key, direction }, the best run (or null),
   * the param keys to show as columns, and whether runs of several projects are listed (a project column). */
  set({ ranked, objective, best, params, showProject }) {
    const arrow = objective.direction === "max" ? "↑ max" : "↓ min";
    this.head.replaceChildren(h("tr", {},
      h("th", { class: "num", text: "#" }), h("th", { text: "run" }), showProject ? h("th", { text: "project" }) : null, h("th", { text: "status" }),
      h("th", { class: "objective", dataset: { key: objective.key || "" } }, objective.key || "no metric", h("span", { class: "muted", text: ` ${arrow}` })),
      params.map((key) => h("th", { dataset: { param: key }, text: key })), h("th", { text: "tags" })));
    this.rows.clear();
    let rank = 0;
    this.body.replaceChildren(...ranked.map((run) => {
      const value = objective.key ? metricValue(run, objective.key) : undefined;
      const hasValue = present(value);
      if (hasValue) rank += 1;
      const isBest = best !== null && run.id === best.id;
      const tr = h("tr", { class: isBest ? "best" : "", dataset: { run: run.id, rank: hasValue ? String(rank) : "" }, onmouseenter: () => this.onHover(run) },
        h("td", { class: "num", text: hasValue ? rank : "–" }),
        h("td", { class: "name" }, runLink(run.id, run.name), isBest ? h("span", { class: "best-mark", title: "best run of the group", text: " ★ best" }) : null),
        showProject ? h("td", { text: run.project }) : null,
        h("td", {}, statusBadge(run.status)),
        h("td", { class: "num objective", text: value === undefined ? "–" : fmt(value) }),
        params.map((key) => cell(paramValue(run, key))),
        h("td", {}, (run.tags || []).map((t) => h("span", { class: "tag", text: t }))));
      this.rows.set(run.id, tr);
      return tr;
    }));
    if (!ranked.length) this.body.append(h("tr", {}, h("td", { colspan: 6, class: "muted", text: "No runs in this group." })));
  }

  /** Mark one run's row as the one the charts point at (null: none). */
  highlight(runId) {
    if (this.hovered) this.hovered.classList.remove("hover");
    this.hovered = this.rows.get(runId) || null;
    if (this.hovered) this.hovered.classList.add("hover");
  }
}
