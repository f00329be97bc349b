/* Building the page: element helpers, the one view element, and small widgets shared by the pages.
 *
 * Everything user-controlled (run names, keys, tags, notes, alert text, params) reaches the page
 * through these helpers as text nodes or attribute values set through the DOM: never through
 * innerHTML. Links go through safeHref, so a stored value can never become a javascript: URL.
 */

import { ago, when } from "./format.js";

const view = document.getElementById("view");

/** An element: h("a", { href: "#/", class: "x", text: "label", onclick: fn, dataset: {...} }, ...children). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = String(value);
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "href") el.setAttribute("href", safeHref(value));
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** Append nodes, or anything else as a text node; null, undefined and false are skipped, arrays flattened. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace what the main view shows. */
export function setView(...children) {
  view.replaceChildren();
  append(view, children);
}

/** Only same-document (#...) and same-origin absolute paths are links; anything else points home. */
export function safeHref(value) {
  const s = String(value);
  return s.startsWith("#") || (s.startsWith("/") && !s.startsWith("//")) ? s : "#/";
}

/** The query part of the hash route: "#/compare?runs=a,b" → URLSearchParams("runs=a,b"). */
export function hashQuery() {
  const hash = location.hash || "#/";
  const i = hash.indexOf("?");
  return new URLSearchParams(i >= 0 ? hash.slice(i + 1) : "");
}

/** A run's (or a silence's) status as a coloured badge; the class is used only when it is a plain word. */
export function statusBadge(status) {
  return h("span", { class: `status ${/^[a-z]+$/.test(status) ? status : ""}`, text: status, "data-role": "status" });
}

/** A failed page load, shown in place of the page. */
export function errorBox(err) {
  return h("div", { class: "panel error", text: err.message || String(err) });
}

/** A link to a run's page. */
export function runLink(runId, label) {
  return h("a", { href: "#/run/" + encodeURIComponent(runId), text: label });
}

/** The route of a group of runs: "#/group/<name>?project=<project>" (no project: the group across projects). */
export function groupHref(name, project) {
  return "#/group/" + encodeURIComponent(name) + (project ? "?project=" + encodeURIComponent(project) : "");
}

/** A link to a group's page (pages/group.js), or a muted "–" for a run in no group. */
export function groupLink(name, project) {
  return name ? h("a", { href: groupHref(name, project), class: "group-link", text: name }) : h("span", { class: "muted", text: "–" });
}

/** A severity (or level) as a coloured badge: critical, error, warning, info; anything else plain. */
export function severityBadge(severity) {
  const known = ["critical", "error", "warning", "info"].includes(severity) ? severity : "other";
  return h("span", { class: `sev sev-${known}`, text: severity || "–", "data-role": "severity" });
}

/** A moment as "3 min ago", the full local date and time on hover; refreshTimes() keeps the text current. */
export function timeAgo(ts, skew = 0) {
  if (!ts) return h("span", { class: "muted", text: "–" });
  return h("time", { datetime: new Date(ts * 1000).toISOString(), title: when(ts), dataset: { ts: String(ts), skew: String(skew) }, text: ago(ts, skew) });
}

/** Rewrite every timeAgo() under root for the time it is now (a page calls it on a timer). */
export function refreshTimes(root) {
  for (const el of root.querySelectorAll("time[data-ts]")) el.textContent = ago(Number(el.dataset.ts), Number(el.dataset.skew));
}
