/* The silences panel of the alerts page: list (kept current while shown), add form, End buttons.
 *
 * Writes need the admin role; a refusal shows the API's reason in #silence-error and keeps what was typed.
 */

import { api } from "../api.js";
import { h, runLink } from "../dom.js";
import { when } from "../format.js";
import { testOverride } from "../testhooks.js";
import { seconds, startsAt } from "../timeinput.js";

const SILENCES_REFRESH_MS = 15000; // tests shorten it with window.RUNWATCH_TEST.silencesRefreshMs (testhooks.js)
const COLUMNS = ["id", "state", "rule", "run", "project", "starts", "ends", "comment", "created by", ""];
const HELP = "While a silence lasts, matching alerts are still recorded and listed, but no notification is sent. " +
  "Give at least one of rule, run id, project; every one given must match. It starts now, or when “starts” says: " +
  "in 30m, or a local date and time such as 2026-12-01 14:30.";

export function silencesPanel(visit) {
  const field = (id, placeholder, cls) => h("input", { type: "text", id, placeholder, class: cls, autocomplete: "off" });
  const inputs = {
    rule: field("silence-rule", "rule"), run_id: field("silence-run", "run id"), project: field("silence-project", "project"),
    starts_at: field("silence-starts", "starts: now, in 1h, a date"),
    duration: field("silence-duration", "for: 30m, 2h, 1d"), comment: field("silence-comment", "comment: why", "grow"),
  };
  inputs.starts_at.title = "Empty or “now”: now. “in 30m”, “2h”: that long from now. A local date and time: 2026-12-01 14:30.";
  const errorLine = h("div", { class: "error", id: "silence-error", role: "alert" });
  const list = h("tbody", { id: "silences" });

  let loads = 0; // only the newest list request may fill the table (a slow periodic one must not undo a change)
  let listError = ""; // why the list could not be loaded, cleared again by the next load that works

  async function load() {
    const mine = ++loads;
    try {
      const { silences } = await api("/silences");
      if (mine !== loads) return;
      list.replaceChildren(...silences.map(row));
      if (!silences.length) list.append(h("tr", {}, h("td", { colspan: 10, class: "muted", text: "No active or scheduled silences." })));
      if (listError && errorLine.textContent === listError) errorLine.textContent = "";
      listError = "";
    } catch (err) {
      if (mine !== loads) return;
      errorLine.textContent = listError = err.message;
    }
  }

  async function change(request) { // a POST or DELETE, then the list as it now is; true if the API accepted it
    errorLine.textContent = "";
    let ok = true;
    try { await request(); } catch (err) { errorLine.textContent = err.message; ok = false; }
    await load();
    return ok;
  }

  function row(s) {
    const end = () => change(() => api(`/silences/${encodeURIComponent(s.id)}`, { method: "DELETE" }));
    const state = s.active ? "active" : "scheduled";
    return h("tr", { dataset: { silence: s.id } },
      h("td", { class: "num", text: s.id }), h("td", {}, h("span", { class: `status ${state}`, text: state })),
      h("td", { text: s.rule ?? "any" }),
      h("td", {}, s.run_id ? runLink(s.run_id, s.run_id) : "any"),
      h("td", { text: s.project ?? "any" }),
      h("td", { class: "num", text: when(s.starts_at) }), h("td", { class: "num", text: when(s.ends_at) }),
      h("td", { text: s.comment }), h("td", { text: s.created_by }),
      h("td", {}, h("button", { class: "secondary", text: "End", onclick: end })));
  }

  const submit = async (e) => {
    e.preventDefault();
    const given = (name) => inputs[name].value.trim() || undefined; // empty means "any": not sent
    const body = { rule: given("rule"), run_id: given("run_id"), project: given("project"),
      starts_at: startsAt(inputs.starts_at.value), duration: seconds(inputs.duration.value), comment: inputs.comment.value.trim() };
    if (await change(() => api("/silences", { method: "POST", body }))) Object.values(inputs).forEach((input) => { input.value = ""; });
  };

  const panel = h("div", { class: "panel", id: "silences-panel" }, h("h2", { text: "Silences" }),
    h("p", { class: "muted", text: HELP }),
    h("form", { class: "row", id: "silence-form", onsubmit: submit }, Object.values(inputs), h("button", { type: "submit", text: "Add silence" })),
    errorLine,
    h("table", {}, h("thead", {}, h("tr", {}, COLUMNS.map((t) => h("th", { text: t })))), list));

  // Scheduled → active → ended happens on the server's clock, so the list is reloaded while the page is shown. The
  // visit clears the timer when the route changes; the isConnected check also stops a timer whose page lost a navigation race.
  const timer = visit.every(testOverride("silencesRefreshMs", SILENCES_REFRESH_MS), () => { if (panel.isConnected) load(); else clearInterval(timer); });
  load();
  return panel;
}
