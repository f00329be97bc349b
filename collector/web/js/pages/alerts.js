/* Alerts (#/alerts): rule alerts stored, rule alerts arriving live, silences, and alerts raised by runs. */

import { api } from "../api.js";
import { h, runLink, setView } from "../dom.js";
import { when } from "../format.js";
import { silencesPanel } from "./silences.js";

function table(headings, body) {
  return h("table", {}, h("thead", {}, h("tr", {}, headings.map((t) => h("th", { text: t })))), body);
}

function userAlertRow(ts, runId, runName, level, title, text) {
  return h("tr", {}, h("td", { class: "num", text: when(ts) }), h("td", {}, runLink(runId, runName || runId)),
    h("td", { text: level }), h("td", { text: title }), h("td", { text: text }));
}

function ruleAlertRow(ev) {
  return h("tr", {}, h("td", { class: "num", text: when(ev.ts) }), h("td", {}, runLink(ev.run, ev.run)),
    h("td", { text: ev.severity }), h("td", { text: ev.rule }), h("td", { text: ev.state }), h("td", { text: ev.title }));
}

function storedRuleAlerts(alerts) {
  if (!alerts.length) return h("p", { class: "muted", text: "No rule alerts." });
  const columns = Object.keys(alerts[0]);
  const cell = (value) => (typeof value === "object" ? JSON.stringify(value) : value ?? "");
  return table(columns, h("tbody", {}, alerts.map((a) => h("tr", {}, columns.map((c) => h("td", { text: cell(a[c]) }))))));
}

export async function alertsPage(visit) {
  const data = await api("/alerts");
  const userBody = h("tbody", { id: "user-alerts" }, data.user_alerts.map((a) => userAlertRow(a.ts, a.run_id, a.run_name, a.level, a.title, a.text)));
  const ruleBody = h("tbody", { id: "rule-alerts-live" });
  setView(
    h("div", { class: "panel" }, h("h2", { text: "Rule alerts" }), storedRuleAlerts(data.alerts)),
    h("div", { class: "panel" }, h("h2", { text: "Rule alerts since this page opened" }),
      table(["when", "run", "severity", "rule", "state", "title"], ruleBody)),
    silencesPanel(visit),
    h("div", { class: "panel" }, h("h2", { text: "Alerts raised by runs" }),
      table(["when", "run", "level", "title", "text"], userBody)));
  visit.live({}, (frame) => {
    for (const ev of frame.events) {
      if (ev.kind === "alert") userBody.prepend(userAlertRow(ev.ts, ev.run, ev.run, ev.level, ev.title, ev.text));
      else if (ev.kind === "rule_alert") ruleBody.prepend(ruleAlertRow(ev));
    }
  });
}
