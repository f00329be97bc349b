/* What the dashboard reads from the API's artifact records: download paths, files as a tree, versions grouped
 * by name, logged images as series by step, and which files can be previewed. Pure functions, no DOM.
 *
 * A record is a version as GET /api/v1/runs/{id} lists it under `artifacts` (stored: true) or `artifacts_used`:
 * name, version, project, type, aliases, metadata, size, files [{path: "<name>/<file>", name, size, sha256}],
 * producer and consumers ({id, name, project, status}). `artifacts` also holds references by URI (stored: false),
 * which have no files and nothing to download.
 */

import { API } from "../api.js";

export const PREVIEW_BYTES = 64 * 1024; // a preview reads at most this much of a file (a Range request)

const KINDS = {
  json: ["json", "ipynb", "geojson"],
  csv: ["csv", "tsv"],
  image: ["png", "jpg", "jpeg", "gif", "webp"],
  markup: ["html", "htm", "svg", "xml", "xhtml"], // shown as their source, never rendered
  text: ["txt", "log", "md", "rst", "yaml", "yml", "toml", "ini", "cfg", "conf", "jsonl", "ndjson", "py", "sh",
    "js", "ts", "c", "h", "cpp", "rs", "go", "java", "sql", "tex", "diff", "patch", "env", "properties"],
};

/** The API path (under /api/v1) of one file a run produced, as the download route reads it:
 * "/runs/<run>/artifacts/<name>/<file>?version=N". path is a file's `path` from a listing ("<name>/<file>"),
 * or an artifact's name for a one-file artifact; every segment is quoted, the slashes between them kept. */
export function downloadPath(runId, path, version) {
  const quoted = String(path).split("/").map(encodeURIComponent).join("/");
  return `/runs/${encodeURIComponent(runId)}/artifacts/${quoted}` + (version ? `?version=${encodeURIComponent(version)}` : "");
}

/** The same as a URL of this origin, for a link or an <img>. */
export function downloadUrl(runId, path, version) {
  return API + downloadPath(runId, path, version);
}

/** "model:v3", how a version is named everywhere on the page. */
export function versionLabel(record) {
  return `${record.name}:v${record.version}`;
}

/** The run that holds a version's bytes (where it is downloaded from): its producer. */
export function producerId(record, fallback) {
  return (record.producer && record.producer.id) || fallback;
}

/** What a file's preview would be, from its name: "json", "csv", "text", "markup" (HTML, SVG, XML: source only),
 * "image" (an <img> only if the server serves its bytes inline), or null (not previewed). */
export function previewKind(fileName) {
  const base = String(fileName).split("/").pop().toLowerCase();
  const dot = base.lastIndexOf(".");
  const ext = dot > 0 ? base.slice(dot + 1) : "";
  if (!ext) return ["readme", "license", "notice", "makefile", "dockerfile"].includes(base) ? "text" : null;
  for (const [kind, exts] of Object.entries(KINDS)) if (exts.includes(ext)) return kind;
  return null;
}

/** Files as a tree by the `/`s of their names inside the artifact: {dirs: Map(name → node), files: [file]}. */
export function fileTree(files) {
  const root = { dirs: new Map(), files: [] };
  for (const file of files) {
    const parts = String(file.name).split("/");
    let node = root;
    for (const dir of parts.slice(0, -1)) {
      if (!node.dirs.has(dir)) node.dirs.set(dir, { dirs: new Map(), files: [] });
      node = node.dirs.get(dir);
    }
    node.files.push({ ...file, leaf: parts[parts.length - 1] });
  }
  return root;
}

/** The total size and file count under a tree node. */
export function treeTotals(node) {
  let bytes = node.files.reduce((sum, f) => sum + (f.size || 0), 0);
  let count = node.files.length;
  for (const child of node.dirs.values()) {
    const sub = treeTotals(child);
    bytes += sub.bytes;
    count += sub.count;
  }
  return { bytes, count };
}

/** Versions grouped by name, names in the order they first appear, each group's versions newest first. */
export function byName(records) {
  const groups = new Map();
  for (const record of records) {
    if (!groups.has(record.name)) groups.set(record.name, []);
    groups.get(record.name).push(record);
  }
  return [...groups].map(([name, versions]) => ({ name, versions: versions.sort((a, b) => b.version - a.version) }));
}

/** Logged images (versions of type "image", one per run.log_image call) as one series per key, sorted by key:
 * {key, frames: [{step, version, file}]} with frames in step order (a step-less one by its version). */
export function imageSeries(records) {
  const series = new Map();
  for (const record of records) {
    if (!record.stored || record.type !== "image" || !record.files || !record.files.length) continue;
    const file = record.files.find((f) => previewKind(f.name) === "image") || record.files[0];
    const step = record.metadata && Number.isInteger(record.metadata.step) ? record.metadata.step : null;
    if (!series.has(record.name)) series.set(record.name, []);
    series.get(record.name).push({ step, version: record.version, file });
  }
  const order = (a, b) => (a.step ?? -Infinity) - (b.step ?? -Infinity) || a.version - b.version;
  return [...series].sort(([a], [b]) => a.localeCompare(b)).map(([key, frames]) => ({ key, frames: frames.sort(order) }));
}

/** How many rows of each kind a run detail lists: a reload waits until these grow by the events it was told of. */
export function artifactCount(run) {
  return (run.artifacts || []).length + (run.artifacts_used || []).length + (run.artifacts_rejected || []).length;
}
