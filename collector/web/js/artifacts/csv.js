/* A small CSV/TSV reader for previews: quoted fields (with "" escapes and newlines inside quotes), CRLF or LF rows.
 * It reads at most a given number of rows and never throws: a preview shows what it can. Pure, no DOM. */

/** Rows of text (at most maxRows) and whether more followed. delimiter: "," (CSV) or "\t" (TSV). */
export function parseDelimited(text, delimiter = ",", maxRows = 50) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  let i = 0;
  const endRow = () => { row.push(field); rows.push(row); row = []; field = ""; };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (c === '"') { quoted = false; i += 1; continue; }
      field += c;
      i += 1;
      continue;
    }
    if (c === '"' && field === "") { quoted = true; i += 1; continue; }
    if (c === delimiter) { row.push(field); field = ""; i += 1; continue; }
    if (c === "\r" && text[i + 1] === "\n") i += 1;
    if (c === "\n" || c === "\r") {
      endRow();
      i += 1;
      if (rows.length >= maxRows) return { rows, more: i < text.length };
      continue;
    }
    field += c;
    i += 1;
  }
  if (field !== "" || row.length) endRow();
  return { rows, more: false };
}

/** The text up to its last complete line: a preview cut at a byte limit drops the line the cut went through. */
export function wholeLines(text) {
  const end = Math.max(text.lastIndexOf("\n"), text.lastIndexOf("\r"));
  return end >= 0 ? text.slice(0, end + 1) : "";
}
