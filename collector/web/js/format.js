/* Values as the dashboard writes them: numbers, ages, moments and sizes. Pure functions, no DOM. */

/** A metric value: integers as they are, others to 5 significant digits, very small or large ones in e-notation. */
export function fmt(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "string") return v;
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e12) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(+v.toPrecision(5));
}

/** How long ago a server timestamp was, "42s" / "5m" / "3h" / "2d"; skew is this browser's clock minus the server's. */
export function age(ts, skew) {
  if (!ts) return "–";
  const s = Math.max(0, Date.now() / 1000 - skew - ts);
  if (s < 60) return `${Math.floor(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** A Unix timestamp as a local date and time. */
export function when(ts) {
  return ts ? new Date(ts * 1000).toLocaleString() : "–";
}

/** How long ago, as a person says it: "just now", "42 s ago", "3 min ago", "5 h ago", "2 days ago" (future: "in 3 min").
 * skew is this browser's clock minus the server's, so a run's times read right even when the clocks differ. */
export function ago(ts, skew = 0) {
  if (!ts) return "–";
  const s = Date.now() / 1000 - skew - ts;
  const a = Math.abs(s);
  let text;
  if (a < 5) return "just now";
  if (a < 60) text = `${Math.floor(a)} s`;
  else if (a < 3600) text = `${Math.floor(a / 60)} min`;
  else if (a < 86400) text = `${Math.floor(a / 3600)} h`;
  else { const d = Math.floor(a / 86400); text = `${d} day${d === 1 ? "" : "s"}`; }
  return s >= 0 ? `${text} ago` : `in ${text}`;
}

/** An axis tick: thousands grouped ("500,000"), small or huge ones in e-notation, at most 6 significant digits. */
export function tick(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e15)) return v.toExponential(2).replace("e+", "e");
  return (+v.toPrecision(6)).toLocaleString("en-US", { maximumFractionDigits: 6 });
}

/** A size in bytes as a person reads it: "0 B", "512 B", "1.5 KiB", "12.3 MiB", "2.0 GiB" (binary units, as `ls -h`). */
export function size(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}
