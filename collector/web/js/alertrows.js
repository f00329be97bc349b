/* Alerts as rows a person reads: rule-alert episodes (episodes.js) and alerts raised by runs, for the alerts page and the run page.
 *
 * A rule-alert row: severity badge, the rule and what it said, the run by name (a link to its page), the
 * episode's state, when it first fired, its repeats folded into a count with the last one's time, and when
 * it resolved. Times read "3 min ago" with the full date and time on hover (dom.js timeAgo; refreshTimes
 * keeps them current). Every value reaches the page as text.
 */

import { num } from "./api.js";
import { h, runLink, severityBadge, statusBadge, timeAgo } from "./dom.js";
import { episodeState } from "./episodes.js";
import { fmt } from "./format.js";

const EPISODE_COLUMNS = ["severity", "alert", "run", "state", "first fired", "repeats", "resolved"];
const USER_COLUMNS = ["when", "run", "level", "title", "text"];

function table(headings, body, attrs = {}) {
  return h("table", { class: "alerts", ...attrs }, h("thead", {}, h("tr", {}, headings.map((t) => h("th", { text: t })))), body);
}

function runCell(runId, runName) {
  return h("td", { class: "run" }, runLink(runId, runName || runId));
}

/** What the alert saw, "loss = NaN at step 3", when it names a metric. */
function observation(episode) {
  if (!episode.metric) return null;
  const value = episode.value === null || episode.value === undefined ? "" : ` = ${fmt(num(episode.value))}`;
  const step = episode.step === null || episode.step === undefined ? "" : ` at step ${episode.step}`;
  return h("div", { class: "muted", text: `${episode.metric}${value}${step}` });
}

function episodeRow(episode, showRun) {
  const state = episodeState(episode);
  const repeats = episode.repeats
    ? h("td", { class: "num" }, `${episode.repeats}× `, h("span", { class: "muted" }, "last ", timeAgo(episode.lastRepeatAt)))
    : h("td", { class: "num muted", text: "–" });
  return h("tr", { dataset: { episode: episode.id, state, severity: episode.severity || "", run: episode.runId } },
    h("td", {}, severityBadge(episode.severity)),
    h("td", { class: "what" }, h("b", { text: episode.rule }), episode.title ? h("div", { text: episode.title }) : null,
      episode.text && episode.text !== episode.title ? h("div", { class: "muted", text: episode.text }) : null, observation(episode)),
    showRun ? runCell(episode.runId, episode.runName) : null,
    h("td", {}, statusBadge(state)),
    h("td", { class: "num", "data-role": "first" }, timeAgo(episode.firstAt)),
    repeats,
    h("td", { class: "num", "data-role": "resolved" }, timeAgo(episode.resolvedAt)));
}

/** The table of rule-alert episodes; set(episodes) redraws it. showRun: false on a run's own page. */
export class EpisodeTable {
  constructor({ showRun = true, id = "rule-alerts", empty = "No rule alerts." } = {}) {
    this.showRun = showRun;
    this.empty = empty;
    this.body = h("tbody", { id });
    this.element = table(EPISODE_COLUMNS.filter((c) => showRun || c !== "run"), this.body);
  }

  set(episodes) {
    this.body.replaceChildren(...episodes.map((e) => episodeRow(e, this.showRun)));
    if (!episodes.length) this.body.append(h("tr", {}, h("td", { colspan: 7, class: "muted", text: this.empty })));
  }
}

/** One alert raised by training code (run.alert()): {ts, run_id, run_name, level, title, text}. */
export function userAlertRow(a, showRun = true) {
  return h("tr", { dataset: { run: a.run_id || "" } },
    h("td", { class: "num" }, timeAgo(a.ts)),
    showRun ? runCell(a.run_id, a.run_name) : null,
    h("td", {}, severityBadge(a.level)), h("td", { text: a.title }), h("td", { text: a.text || "" }));
}

/** The table of alerts raised by runs, rows from userAlertRow(); prepend live ones to body. */
export function userAlertTable(body, showRun = true) {
  return table(USER_COLUMNS.filter((c) => showRun || c !== "run"), body);
}
