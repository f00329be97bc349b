/* Rule alerts as episodes: every transition of one episode of one (rule, run[, subject]) folded into one row.
 *
 * The rule engine records a transition each time an episode fires, repeats (a reminder while it stays
 * firing) or resolves; its id is "<rule>|<run>[|<subject>]#<episode>.<seq>". Listed raw, a noisy rule's
 * repeats flood the page, so the pages show one row per key#episode: when it first fired, how often and
 * when it last repeated, when it resolved. Pure code, no DOM: the rows are drawn by alertrows.js.
 *
 * Transitions come from REST (GET /api/v1/alerts, a run's `alerts`: fields id, rule, run_id, run_name,
 * state, severity, title, text, metric, value, step, at) and from live frames (kind "rule_alert": run,
 * ts, episode, seq, subject, repeat, ...). The same transition seen twice is counted once.
 */

/** "<rule>|<run>[|subject]#<episode>.<seq>" → { key, episode, seq }; null for anything else. */
export function parseAlertId(id) {
  const m = /^(.*)#(\d+)\.(\d+)$/.exec(typeof id === "string" ? id : "");
  return m ? { key: m[1], episode: Number(m[2]), seq: Number(m[3]) } : null;
}

/** A live frame's rule_alert event as the REST API spells a transition (its id rebuilt when the frame carries the parts). */
export function transitionFromFrame(ev) {
  const key = [ev.rule, ev.run, ev.subject].filter((part) => part !== undefined && part !== null && part !== "").join("|");
  const id = Number.isInteger(ev.episode) && Number.isInteger(ev.seq) ? `${key}#${ev.episode}.${ev.seq}` : null;
  return { id, key, rule: ev.rule, run_id: ev.run, run_name: ev.run_name || null, state: ev.state, severity: ev.severity,
    title: ev.title, text: ev.text, metric: ev.metric, value: ev.value, step: ev.step, at: ev.ts, repeat: !!ev.repeat };
}

export class Episodes {
  /* The episodes of the transitions added so far; list() gives them newest first. */
  constructor() {
    this.byId = new Map(); // "key#episode" → episode
    this.seen = new Set(); // transition ids already counted
    this.openByKey = new Map(); // key → the newest episode of that key (for transitions that carry no id)
  }

  /** Fold one transition in; false when it was already counted. */
  add(t) {
    if (t.id && this.seen.has(t.id)) return false;
    if (t.id) this.seen.add(t.id);
    const parsed = parseAlertId(t.id);
    const key = parsed ? parsed.key : t.key || `${t.rule}|${t.run_id}`;
    let episode = parsed ? this.byId.get(`${key}#${parsed.episode}`) : this.unnumbered(key, t);
    if (!episode) episode = this.open(parsed ? `${key}#${parsed.episode}` : `${key}#live${this.byId.size}`, key, t);
    this.fold(episode, t, parsed ? parsed.seq : null);
    return true;
  }

  /** Episodes, the most recently started first. */
  list() {
    return [...this.byId.values()].sort((a, b) => (b.firstAt ?? b.lastAt) - (a.firstAt ?? a.lastAt));
  }

  unnumbered(key, t) { // a transition without an id joins its key's newest episode unless it starts a new one
    const newest = this.openByKey.get(key);
    if (!newest) return null;
    const startsNew = t.state === "firing" && !t.repeat && (newest.resolvedAt !== null || newest.firstAt !== null);
    return startsNew ? null : newest;
  }

  open(id, key, t) {
    const episode = { id, key, rule: t.rule, runId: t.run_id, runName: t.run_name, severity: t.severity, title: t.title, text: t.text,
      metric: t.metric, value: t.value, step: t.step, firstAt: null, lastRepeatAt: null, repeats: 0, resolvedAt: null, lastAt: t.at };
    this.byId.set(id, episode);
    const newest = this.openByKey.get(key);
    if (!newest || (newest.lastAt ?? 0) <= t.at) this.openByKey.set(key, episode);
    return episode;
  }

  fold(episode, t, seq) {
    if (t.run_name) episode.runName = t.run_name;
    episode.lastAt = Math.max(episode.lastAt ?? t.at, t.at);
    if (t.state === "resolved") {
      episode.resolvedAt = Math.max(episode.resolvedAt ?? t.at, t.at);
      return;
    }
    const first = seq === 0 || (seq === null && !t.repeat);
    if (first) episode.firstAt = episode.firstAt === null ? t.at : Math.min(episode.firstAt, t.at);
    else {
      episode.repeats += 1;
      episode.lastRepeatAt = Math.max(episode.lastRepeatAt ?? t.at, t.at);
    }
    const latest = first ? episode.lastRepeatAt === null : t.at >= episode.lastRepeatAt;
    if (latest) Object.assign(episode, { severity: t.severity, title: t.title, text: t.text, metric: t.metric, value: t.value, step: t.step });
  }
}

/** An episode's state: "resolved" once a resolution was recorded, else "firing". */
export function episodeState(episode) {
  return episode.resolvedAt !== null ? "resolved" : "firing";
}
