/* The run page's artifacts: the "Artifacts" panel (what the run stored, used, referenced and had rejected) and the
 * "Images" panel (images.js), both built from the run detail and kept current by reloading it after live events.
 *
 * Stored versions are grouped by name, the newest version open and older ones folded; each shows name:vN, its
 * type, aliases, size, created time, the runs that used it (lineage links), a link to its versions across runs
 * (#/artifacts), and its files as a tree of directories with sizes, a download link per file (and per artifact
 * for a one-file one) and a preview (preview.js) of text, JSON, CSV and images. Inputs (`artifacts_used`) are
 * listed with the run that produced them, downloadable from it. References by URI (an s3://… the run only named)
 * are shown as such, never as a download. Rejected artifact events are shown with the collector's reason. A model
 * version the run produced has a "promote" control (promote.js) that points an alias at it.
 */

import { api } from "../api.js";
import { append, h, runLink, timeAgo } from "../dom.js";
import { size } from "../format.js";
import { ImagesSection } from "./images.js";
import { artifactCount, byName, downloadPath, downloadUrl, fileTree, imageSeries, previewKind, producerId, treeTotals, versionLabel } from "./model.js";
import { preview } from "./preview.js";
import { promoteControl } from "./promote.js";

const FILES_SHOWN = 500; // per version: a bigger one lists this many and says how many more
const OLDER_SHOWN = 100; // older versions of a name listed when unfolded
const OPEN_DIRS_UP_TO = 20; // files in a version whose directories start open
const RELOAD_FIRST_MS = 400; // after a live artifact event, the first reload; then doubling
const RELOAD_ATTEMPTS = 5;

/** A link to the search page (#/artifacts) listing a name's versions across runs. */
export function searchHref(name, project) {
  const params = new URLSearchParams();
  if (name) params.set("name", name);
  if (project) params.set("project", project);
  return "#/artifacts" + (params.toString() ? "?" + params : "");
}

function sizeText(bytes) {
  return h("span", { class: "size num", title: `${bytes} bytes`, dataset: { size: String(bytes) }, text: size(bytes) });
}

function runLinks(runs) {
  return runs.map((r, i) => [i ? ", " : "", runLink(r.id, r.name || r.id)]);
}

/** One file: name, size, download link, and a preview toggle for the kinds previewKind() knows. */
function fileRow(holder, version, file) {
  const path = downloadPath(holder, file.path, version);
  const url = downloadUrl(holder, file.path, version);
  const kind = previewKind(file.name);
  const shown = h("div", { class: "preview-slot" });
  let open = false;
  const toggle = kind && h("button", { class: "secondary small", text: "preview", onclick: async () => {
    open = !open;
    toggle.textContent = open ? "hide" : "preview";
    if (!open) { shown.replaceChildren(); return; }
    shown.replaceChildren(h("span", { class: "muted", text: "loading…" }));
    try {
      const element = await preview(path, url, kind, file);
      if (open) shown.replaceChildren(element);
    } catch (err) {
      shown.replaceChildren(h("span", { class: "error", text: err.message }));
    }
  } });
  return h("li", { class: "file", dataset: { path: file.path } },
    h("div", { class: "row" }, h("span", { class: "file-name", text: file.leaf }), sizeText(file.size),
      h("a", { href: url, download: "", class: "download", text: "download" }), toggle),
    shown);
}

/** A directory node's entries, directories first; budget.left counts down the files still to list. */
function treeItems(holder, version, node, open, budget) {
  const dirs = [...node.dirs].sort(([a], [b]) => a.localeCompare(b)).map(([name, child]) => {
    const totals = treeTotals(child);
    return h("li", { class: "dir", dataset: { dir: name } }, h("details", { open },
      h("summary", {}, h("span", { class: "file-name", text: name + "/" }), " ", h("span", { class: "muted", text: `${totals.count} files, ` }), sizeText(totals.bytes)),
      h("ul", { class: "files" }, treeItems(holder, version, child, open, budget))));
  });
  const files = [...node.files].sort((a, b) => a.leaf.localeCompare(b.leaf)).filter(() => budget.left-- > 0)
    .map((file) => fileRow(holder, version, file));
  return [...dirs, ...files];
}

/** A version: its heading (label, type, aliases, size, files, when, lineage) and its files as a tree.
 * holder: the run its bytes are downloaded from (its producer). */
function versionBlock(record, holder, { producedBy = false, onPromoted = null } = {}) {
  const files = record.files || [];
  const budget = { left: FILES_SHOWN };
  const items = treeItems(holder, record.version, fileTree(files), files.length <= OPEN_DIRS_UP_TO, budget);
  const consumers = record.consumers || [];
  return h("div", { class: "artifact", dataset: { name: record.name, version: String(record.version) } },
    h("div", { class: "row artifact-head" },
      h("span", { class: "artifact-label", text: versionLabel(record) }),
      h("span", { class: "tag type", text: record.type }),
      (record.aliases || []).map((a) => h("span", { class: "tag alias", text: a })),
      sizeText(record.size), h("span", { class: "muted", text: `${files.length} file${files.length === 1 ? "" : "s"}` }),
      timeAgo(record.created_at),
      files.length === 1 ? h("a", { href: downloadUrl(holder, record.name, record.version), download: "", class: "download-artifact", text: "download" }) : null,
      producedBy ? h("span", { class: "lineage producer" }, "produced by ", runLink(holder, (record.producer && record.producer.name) || holder)) : null,
      !producedBy && consumers.length ? h("span", { class: "lineage consumers" }, "used by ", runLinks(consumers)) : null,
      h("a", { href: searchHref(record.name, record.project), class: "muted", text: "all versions" })),
    producedBy ? null : promoteControl(record, onPromoted),
    h("ul", { class: "files" }, items),
    files.length > FILES_SHOWN ? h("p", { class: "muted", text: `…and ${files.length - FILES_SHOWN} more files (runwatch download lists them all).` }) : null);
}

/** A name's versions: the newest shown, the older ones folded under it and built only when unfolded (an image key
 * logged every step has thousands), at most OLDER_SHOWN of them. */
function nameBlock(group, holderOf, options) {
  const [newest, ...older] = group.versions;
  const folded = older.length ? h("details", { class: "older" },
    h("summary", { class: "muted", text: `${older.length} older version${older.length === 1 ? "" : "s"}` })) : null;
  if (folded) {
    folded.addEventListener("toggle", () => {
      if (!folded.open || folded.dataset.built) return;
      folded.dataset.built = "true";
      append(folded, [older.slice(0, OLDER_SHOWN).map((record) => versionBlock(record, holderOf(record), options)),
        older.length > OLDER_SHOWN ? h("p", { class: "muted" }, `…and ${older.length - OLDER_SHOWN} more: `,
          h("a", { href: searchHref(group.name, newest.project), text: "all versions" })) : null]);
    });
  }
  return h("li", { class: "artifact-name", dataset: { name: group.name } }, versionBlock(newest, holderOf(newest), options), folded);
}

function section(title, id, count, ...body) {
  return count ? h("div", { class: "artifact-section", id }, h("h3", { text: `${title} (${count})` }), body) : null;
}

function referencesTable(references) {
  return h("table", { class: "artifact-references" },
    h("thead", {}, h("tr", {}, ["name", "uri", "size", "sha256", ""].map((t) => h("th", { text: t })))),
    h("tbody", {}, references.map((r) => h("tr", { dataset: { name: r.name } },
      h("td", { text: r.name }), h("td", {}, h("code", { text: r.uri })),
      h("td", {}, r.size ? sizeText(r.size) : "–"), h("td", { class: "muted", text: r.sha256 ? r.sha256.slice(0, 12) : "–" }),
      h("td", { class: "muted", text: "a reference: its bytes are not stored here" })))));
}

function rejectedTable(rejected) {
  return h("table", { class: "artifacts-rejected" },
    h("thead", {}, h("tr", {}, ["name", "role", "why it was rejected", "when"].map((t) => h("th", { text: t })))),
    h("tbody", {}, rejected.map((r) => h("tr", { dataset: { name: r.name } },
      h("td", { text: r.name }), h("td", { text: r.role }), h("td", { class: "reason", text: r.reason }), h("td", {}, timeAgo(r.at))))));
}

/** The run page's Artifacts and Images panels (elements `panel` and `images`); changed() after a live artifact event. */
export class RunArtifacts {
  constructor(visit, run) {
    this.visit = visit;
    this.runId = run.id;
    this.images = new ImagesSection(visit, run.id);
    this.panel = h("div", { class: "panel", id: "artifacts" });
    this.shown = null;
    this.expected = 0;
    this.reloading = false;
    this.set(run);
  }

  /** Show what this run detail lists (nothing is rebuilt when it lists the same as before). */
  set(run) {
    const stored = (run.artifacts || []).filter((a) => a.stored);
    const references = (run.artifacts || []).filter((a) => !a.stored);
    const used = run.artifacts_used || [];
    const rejected = run.artifacts_rejected || [];
    this.expected = Math.max(this.expected, artifactCount(run));
    const signature = JSON.stringify([run.artifacts, used, rejected]);
    if (signature === this.shown) return;
    this.shown = signature;
    this.images.set(imageSeries(stored));
    const total = stored.reduce((sum, a) => sum + (a.size || 0), 0);
    this.panel.hidden = !(stored.length || references.length || used.length || rejected.length);
    this.panel.replaceChildren();
    append(this.panel, [
      h("div", { class: "row" }, h("h2", { text: "Artifacts" }),
        h("span", { class: "muted", id: "artifacts-total" }, `${stored.length} stored version${stored.length === 1 ? "" : "s"}, `, sizeText(total), " in all"),
        h("a", { href: searchHref("", run.project), text: `search ${run.project}'s artifacts` })),
      section("Stored", "artifacts-stored", stored.length,
        h("ul", { class: "artifact-tree", id: "artifact-tree" }, byName(stored).map((g) => nameBlock(g, () => this.runId, { onPromoted: () => this.reload(0, RELOAD_ATTEMPTS) })))),
      section("Used (inputs)", "artifacts-used", used.length,
        h("ul", { class: "artifact-tree" }, byName(used).map((g) => nameBlock(g, (r) => producerId(r, this.runId), { producedBy: true })))),
      section("References by URI", "artifacts-references", references.length, referencesTable(references)),
      section("Rejected", "artifacts-rejected", rejected.length, rejectedTable(rejected))]);
  }

  /** An artifact event arrived live. The collector commits it a moment after it is on the stream, so reload the
   * run until its listing has grown by the events announced, a few times at growing intervals at most. */
  changed() {
    this.expected += 1;
    if (!this.reloading) this.reload(RELOAD_FIRST_MS, 1);
  }

  reload(delay, attempt) {
    this.reloading = true;
    this.visit.after(delay, async () => {
      const run = await api("/runs/" + encodeURIComponent(this.runId)).catch(() => null);
      if (run) this.set(run);
      if ((run && artifactCount(run) >= this.expected) || attempt >= RELOAD_ATTEMPTS) {
        this.reloading = false;
        if (run) this.expected = artifactCount(run); // an event that adds no row (a use recorded before) stops counting
        return;
      }
      this.reload(delay * 2, attempt + 1);
    });
  }
}
