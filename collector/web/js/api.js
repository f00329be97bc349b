/* Talking to the REST API under /api/v1: one fetch wrapper, its errors, and the JSON spelling of non-finite numbers.
 *
 * Requests carry the session cookie (same origin) and the X-Requested-With header the API demands of
 * cookie-authenticated writes. A 401 throws AuthNeeded, which the router answers with the sign-in form.
 */

export const API = "/api/v1";

/** The server wants a token (HTTP 401, or websocket close 4401). */
export class AuthNeeded extends Error {}

/** GET (or options.method) API + path; an object body is sent as JSON. Resolves to the parsed body, or throws
 * an Error (AuthNeeded for 401) whose message is the API's reason, with .detail and .status. */
export async function api(path, options = {}) {
  const init = { credentials: "same-origin", ...options, headers: { "X-Requested-With": "runwatch", ...(options.headers || {}) } };
  if (init.body && typeof init.body !== "string") {
    init.body = JSON.stringify(init.body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(API + path, init);
  const data = await response.json().catch(() => ({}));
  if (response.ok) return data;
  const err = new (response.status === 401 ? AuthNeeded : Error)(reason(data.detail) || response.statusText);
  err.detail = data.detail;
  err.status = response.status;
  throw err;
}

/** The first bytes of a download (API + path), asked for with a Range header: { status, bytes (Uint8Array), total,
 * disposition, type }. total is the whole file's size (from Content-Range, or the body's length on a 200).
 * Throws AuthNeeded on 401 and an Error with the API's reason on any other failure. */
export async function fetchRange(path, first, last) {
  const response = await fetch(API + path, { credentials: "same-origin", headers: { Range: `bytes=${first}-${last}` } });
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    const err = new (response.status === 401 ? AuthNeeded : Error)(reason(data.detail) || response.statusText);
    err.status = response.status;
    throw err;
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  const range = /\/(\d+)$/.exec(response.headers.get("content-range") || "");
  return {
    status: response.status,
    bytes,
    total: range ? Number(range[1]) : bytes.length,
    disposition: response.headers.get("content-disposition") || "",
    type: response.headers.get("content-type") || "",
  };
}

/** The API's why: a string, {error: ...}, or FastAPI's list of validation errors ("duration: Field required"). */
export function reason(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => [...(d.loc || []).filter((part) => part !== "body"), String(d.msg).replace(/^Value error, /, "")].join(": ")).join("\n");
  }
  return detail && detail.error;
}

/** A number as the API writes it: JSON cannot carry NaN or ±Infinity, so they come as the strings "NaN", "Infinity", "-Infinity". */
export function num(v) {
  if (v === "NaN") return NaN;
  if (v === "Infinity") return Infinity;
  if (v === "-Infinity") return -Infinity;
  return v;
}

/** Is this metric a system one (CPU, memory, GPU…)? The run detail's `kind` when it says, else the emitter's
 * "system/" prefix (live frames and pages of runs carry no kind). summary: the metric's entry in a run's `metrics`. */
export function isSystemMetric(summary, key) {
  return summary && summary.kind ? summary.kind === "system" : key.startsWith("system/");
}
