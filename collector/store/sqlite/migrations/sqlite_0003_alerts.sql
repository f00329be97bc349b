-- runwatch SQLite schema: alert state, alert history and the delivery outbox.

-- When a new (higher) metric step last arrived, on the collector's clock: no_progress rules.
ALTER TABLE runs ADD COLUMN last_progress_at REAL;

-- The rule engine's memory, one row per (rule, run, subject); written in the same
-- transaction as the events that changed it, so a restart neither loses nor repeats an alert.
CREATE TABLE alert_state (
    rule    TEXT NOT NULL,
    run_id  TEXT NOT NULL,
    subject TEXT NOT NULL,
    data    TEXT NOT NULL,                          -- JSON (alerts.state.Slot)
    PRIMARY KEY (rule, run_id, subject)
) WITHOUT ROWID;

-- Every alert transition (firing, repeat, resolved): the alert history.
CREATE TABLE alerts (
    id        TEXT PRIMARY KEY,                     -- <rule>|<run>[|<subject>]#<episode>.<seq>
    rule      TEXT NOT NULL,
    run_id    TEXT NOT NULL,
    state     TEXT NOT NULL,                        -- firing | resolved
    kind      TEXT NOT NULL,
    severity  TEXT NOT NULL,
    title     TEXT NOT NULL,
    text      TEXT NOT NULL,
    metric    TEXT,
    value     TEXT,                                 -- JSON: "NaN", "Infinity" or a number
    step      INTEGER,
    at        REAL NOT NULL,
    payload   TEXT NOT NULL                         -- JSON (alerts.engine.Transition)
);
CREATE INDEX alerts_at ON alerts (at);
CREATE INDEX alerts_run ON alerts (run_id, at);

-- The outbox: one row per (transition, channel), sent by the delivery worker with retries.
CREATE TABLE alert_deliveries (
    id              TEXT PRIMARY KEY,               -- <transition id>@<channel>
    alert_id        TEXT NOT NULL,
    channel         TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,                  -- pending | sent | failed
    attempts        INTEGER NOT NULL,
    created_at      REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    sent_at         REAL,
    last_error      TEXT
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (status, next_attempt_at);
CREATE INDEX alert_deliveries_alert ON alert_deliveries (alert_id);
