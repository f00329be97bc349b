/* What a person types for a time, read as the API's numbers: a duration ("2h") and a start ("in 30m", a local date).
 *
 * Anything these cannot read is returned as typed, so the API refuses it with its own reason
 * (the form shows that reason) instead of the dashboard guessing. Pure functions, no DOM.
 */

const UNITS = { s: 1, m: 60, h: 3600, d: 86400 };

/** "3600", "30m", "2h", "1d12h" → seconds; "" → undefined (not sent); anything else → the text as typed. */
export function seconds(text) {
  const t = text.replace(/\s+/g, "");
  if (!t) return undefined;
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  if (!/^(\d+(\.\d+)?[smhd])+$/.test(t)) return t;
  return [...t.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)].reduce((sum, [, n, unit]) => sum + Number(n) * UNITS[unit], 0);
}

/** When a silence starts, as the API's starts_at (Unix seconds): "" or "now" → undefined (not sent: the API starts it now);
 * "in 30m", "30m", "in 1h30m", "90" → that long from now (this browser's clock); a local date and time such as
 * "2026-12-01 14:30" or "2026-12-01T14:30:00" (what a datetime-local input gives), or a date alone (midnight) → that
 * moment in this browser's time zone. Anything else (a date that does not exist included) → the text as typed. */
export function startsAt(text) {
  const t = text.trim();
  if (!t || /^now$/i.test(t)) return undefined;
  const offset = seconds(t.replace(/^in\s+/i, ""));
  if (typeof offset === "number" && Number.isFinite(offset)) return Date.now() / 1000 + offset;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T\s]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$/.exec(t);
  if (m) {
    const [y, mon, d, hour, min, sec] = m.slice(1).map((part) => Number(part || 0));
    const date = new Date(y, mon - 1, d, hour, min, sec);
    if (date.getFullYear() === y && date.getMonth() === mon - 1 && date.getDate() === d && hour < 24 && min < 60 && sec < 60) return date.getTime() / 1000;
  }
  return t;
}
