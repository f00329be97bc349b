/* Compare (#/compare?runs=a,b,...): params side by side (differing ones marked), one overlay chart per metric. */

import { api } from "../api.js";
import { OverlayChart } from "../charts/overlay.js";
import { h, hashQuery, runLink, setView } from "../dom.js";

export async function comparePage(visit) {
  const ids = (hashQuery().get("runs") || "").split(",").filter(Boolean);
  if (!ids.length) {
    setView(h("div", { class: "panel" }, h("p", { text: "Tick runs in the runs table and press “Compare selected”." })));
    return;
  }
  const data = await api("/compare?runs=" + encodeURIComponent(ids.join(",")));
  const onlyDiff = h("input", { type: "checkbox", id: "only-diff" });
  const body = h("tbody", {});
  const renderParams = () => body.replaceChildren(...data.params.filter((p) => !onlyDiff.checked || p.differs).map((p) =>
    h("tr", { class: p.differs ? "differs" : "" }, h("td", { text: p.key }),
      data.runs.map((r) => h("td", { text: r.id in p.values ? JSON.stringify(p.values[r.id]) : "–" })))));
  onlyDiff.addEventListener("change", renderParams);
  renderParams();
  const grid = h("div", { class: "charts" });
  setView(
    h("div", { class: "panel" }, h("h2", { text: "Params" }),
      h("label", { class: "row" }, onlyDiff, "only differing"),
      h("table", { id: "compare-params" },
        h("thead", {}, h("tr", {}, h("th", { text: "param" }), data.runs.map((r) => h("th", {}, runLink(r.id, r.name))))),
        body)),
    h("div", { class: "panel" }, h("h2", { text: "Metrics" }), grid));
  for (const key of data.keys) grid.append(visit.own(new OverlayChart(key, data.runs, data.series)).box);
}
