/* Artifact search (#/artifacts?name=&project=): the versions of artifacts across runs, newest first, each with the
 * run that produced it (a link), the runs that used it, its aliases, size and files to download.
 *
 * GET /api/v1/artifacts matches a name exactly. When no name matches exactly, the page reads the newest
 * SCAN_LIMIT versions (of the project, when given) and keeps those whose name contains the text typed, case
 * ignored, and says that it did so. The form writes its fields to the URL (no reload), so a search can be shared.
 */

import { api, AuthNeeded } from "../api.js";
import { h, hashQuery, runLink, setView, timeAgo } from "../dom.js";
import { size } from "../format.js";
import { downloadUrl, producerId, versionLabel } from "../artifacts/model.js";

const LIMIT = 200; // versions listed for an exact name (or none)
const SCAN_LIMIT = 1000; // versions read to match part of a name
const FILES_LISTED = 20;
const COLUMNS = ["artifact", "project", "type", "aliases", "size", "files", "created", "produced by", "used by"];

/** Versions for the search, and how they were found: exact name (or none), else names containing the text. */
async function search(name, project) {
  const params = new URLSearchParams({ limit: String(LIMIT) });
  if (name) params.set("name", name);
  if (project) params.set("project", project);
  const exact = await api("/artifacts?" + params);
  if (!name || exact.artifacts.length) return { versions: exact.artifacts, how: "" };
  const wide = new URLSearchParams({ limit: String(SCAN_LIMIT) });
  if (project) wide.set("project", project);
  const needle = name.toLowerCase();
  const found = (await api("/artifacts?" + wide)).artifacts.filter((a) => a.name.toLowerCase().includes(needle));
  return { versions: found, how: `No artifact is named exactly “${name}”: names containing it, among the newest ${SCAN_LIMIT} versions.` };
}

function filesCell(record, holder) {
  const files = record.files || [];
  if (files.length === 1) {
    return h("a", { href: downloadUrl(holder, record.name, record.version), download: "", class: "download", text: files[0].name });
  }
  return h("details", {}, h("summary", { text: `${files.length} files` }),
    h("ul", { class: "files" }, files.slice(0, FILES_LISTED).map((f) => h("li", {},
      h("a", { href: downloadUrl(holder, f.path, record.version), download: "", text: f.name }), " ", h("span", { class: "muted", text: size(f.size) })))),
    files.length > FILES_LISTED ? h("p", { class: "muted", text: `…and ${files.length - FILES_LISTED} more: see the producing run.` }) : null);
}

function row(record) {
  const holder = producerId(record, "");
  const producer = record.producer || {};
  const consumers = record.consumers || [];
  return h("tr", { dataset: { name: record.name, version: String(record.version), run: holder } },
    h("td", {}, h("a", { href: `#/artifacts?name=${encodeURIComponent(record.name)}&project=${encodeURIComponent(record.project)}`, class: "artifact-label", text: versionLabel(record) })),
    h("td", { text: record.project }),
    h("td", {}, h("span", { class: "tag type", text: record.type })),
    h("td", {}, (record.aliases || []).map((a) => h("span", { class: "tag alias", text: a }))),
    h("td", { class: "num", title: `${record.size} bytes`, text: size(record.size) }),
    h("td", {}, holder ? filesCell(record, holder) : "–"),
    h("td", {}, timeAgo(record.created_at)),
    h("td", { class: "producer" }, holder ? runLink(holder, producer.name || holder) : "–"),
    h("td", { class: "consumers" }, consumers.length ? consumers.map((c, i) => [i ? ", " : "", runLink(c.id, c.name || c.id)]) : h("span", { class: "muted", text: "–" })));
}

/** visit: the page's Visit (a search refused for want of a token opens the sign-in form). */
export async function artifactsPage(visit) {
  const q = hashQuery();
  const nameInput = h("input", { type: "text", id: "artifact-name", class: "grow", placeholder: "artifact name (exact, or part of one)", value: q.get("name") || "" });
  const projectInput = h("input", { type: "text", id: "artifact-project", placeholder: "project", value: q.get("project") || "" });
  const how = h("p", { class: "muted", id: "artifact-search-how", hidden: true });
  const count = h("span", { class: "muted", id: "artifact-count" });
  const body = h("tbody", { id: "artifact-results" });
  const error = h("div", { class: "error" });

  async function run() {
    const name = nameInput.value.trim();
    const project = projectInput.value.trim();
    const params = new URLSearchParams();
    if (name) params.set("name", name);
    if (project) params.set("project", project);
    history.replaceState(null, "", "#/artifacts" + (params.toString() ? "?" + params : ""));
    error.textContent = "";
    let found;
    try {
      found = await search(name, project);
    } catch (err) {
      if (err instanceof AuthNeeded) throw err;
      error.textContent = err.message;
      return;
    }
    how.textContent = found.how;
    how.hidden = !found.how;
    const runs = new Set(found.versions.map((v) => producerId(v, "")));
    count.textContent = `${found.versions.length} version${found.versions.length === 1 ? "" : "s"} from ${runs.size} run${runs.size === 1 ? "" : "s"}`;
    body.replaceChildren(...found.versions.map(row));
    if (!found.versions.length) body.append(h("tr", {}, h("td", { colspan: COLUMNS.length, class: "muted", text: "No artifact matches. Runs store them with run.log_artifact(path) and run.log_image(key, image)." })));
  }

  const form = h("form", { class: "row", id: "artifact-search", onsubmit: (e) => { e.preventDefault(); run().catch((err) => (err instanceof AuthNeeded ? visit.onAuthNeeded() : (error.textContent = err.message))); } },
    nameInput, projectInput, h("button", { type: "submit", text: "Search" }));
  setView(
    h("div", { class: "panel" }, h("h2", { text: "Artifacts" }), form, error, how),
    h("div", { class: "panel" },
      h("div", { class: "row" }, h("h2", { text: "Versions" }), count),
      h("div", { class: "scroll-x" }, h("table", { id: "artifact-table" },
        h("thead", {}, h("tr", {}, COLUMNS.map((t) => h("th", { text: t })))), body))));
  await run();
}
