/* Previews of a stored file, opened from the artifacts panel: text, JSON (pretty-printed), CSV/TSV (a small table),
 * and images (only those the server serves inline).
 *
 * A preview reads at most the first PREVIEW_BYTES of a file with a Range request and says when that was not
 * all of it. Nothing a run uploaded is ever rendered as a page: text of every kind, HTML and SVG included,
 * reaches the page as a text node (a <pre>), and an <img> is made only for a file the server answered with
 * `Content-Disposition: inline` and an image type, which it does only when the bytes are PNG, JPEG, GIF or
 * WebP (collector/artifacts/media.py); anything else is a download link only.
 */

import { fetchRange } from "../api.js";
import { h } from "../dom.js";
import { size } from "../format.js";
import { parseDelimited, wholeLines } from "./csv.js";
import { PREVIEW_BYTES } from "./model.js";

const TABLE_ROWS = 50;
const TABLE_COLUMNS = 30;
const SNIFF = 16; // enough for the server to tell an image by its magic number

/** Does the server serve this download inline as an image? (A 16-byte Range request: its headers tell.) */
export async function servedAsImage(path) {
  const head = await fetchRange(path, 0, SNIFF - 1);
  return head.disposition.toLowerCase().startsWith("inline") && head.type.startsWith("image/");
}

/** An <img> of a download the server serves inline; its data-loaded is set once the picture is decoded. */
export function inlineImage(url, alt) {
  const img = h("img", { alt, class: "artifact-image", decoding: "async" });
  img.addEventListener("load", () => { img.dataset.loaded = "true"; });
  img.addEventListener("error", () => { img.dataset.loaded = "error"; });
  img.src = url;
  return img;
}

/** The preview element of a file: path is its API download path, url the same as a link, kind from previewKind(). */
export async function preview(path, url, kind, file) {
  if (kind === "image") {
    return (await servedAsImage(path))
      ? h("div", { class: "preview", dataset: { kind } }, inlineImage(url, file.name))
      : note("The server serves this file as a download only: its bytes are not a PNG, JPEG, GIF or WebP image.");
  }
  const got = await fetchRange(path, 0, PREVIEW_BYTES - 1);
  const truncated = got.total > got.bytes.length;
  const text = new TextDecoder("utf-8").decode(got.bytes);
  const notes = [];
  if (truncated) notes.push(`Showing the first ${size(got.bytes.length)} of ${size(got.total)}.`);
  if (/\0/.test(text.slice(0, 8192))) return note("This file looks binary: download it to read it.");
  let body;
  if (kind === "json") body = jsonBody(text, truncated, notes);
  else if (kind === "csv") body = tableBody(text, truncated, file.name.toLowerCase().endsWith(".tsv") ? "\t" : ",", notes);
  else {
    if (kind === "markup") notes.push("Shown as its source: HTML and SVG are never rendered here.");
    body = h("pre", { class: "preview-text", text });
  }
  return h("div", { class: "preview", dataset: { kind, truncated: String(truncated) } },
    notes.map((n) => h("p", { class: "muted preview-note", text: n })), body);
}

function note(text) {
  return h("div", { class: "preview" }, h("p", { class: "muted preview-note", text }));
}

function jsonBody(text, truncated, notes) {
  if (truncated) {
    notes.push("Not pretty-printed: JSON cut short does not parse.");
    return h("pre", { class: "preview-text", text });
  }
  try {
    return h("pre", { class: "preview-text preview-json", text: JSON.stringify(JSON.parse(text), null, 2) });
  } catch (err) {
    notes.push(`Not valid JSON (${err.message}): shown as it is.`);
    return h("pre", { class: "preview-text", text });
  }
}

function tableBody(text, truncated, delimiter, notes) {
  const { rows, more } = parseDelimited(truncated ? wholeLines(text) : text, delimiter, TABLE_ROWS + 1);
  if (!rows.length) return h("p", { class: "muted", text: "(empty)" });
  const [header, ...body] = rows;
  const width = Math.min(TABLE_COLUMNS, Math.max(...rows.map((r) => r.length)));
  if (more || truncated) notes.push(`The first ${body.length} rows.`);
  if (rows.some((r) => r.length > TABLE_COLUMNS)) notes.push(`The first ${TABLE_COLUMNS} columns.`);
  const cells = (row, tag) => Array.from({ length: width }, (_, i) => h(tag, { text: row[i] ?? "" }));
  return h("div", { class: "scroll-x" }, h("table", { class: "preview-table" },
    h("thead", {}, h("tr", {}, cells(header, "th"))),
    h("tbody", {}, body.map((row) => h("tr", {}, cells(row, "td"))))));
}
