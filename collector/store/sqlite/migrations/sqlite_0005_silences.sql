-- runwatch SQLite schema, version 5: silences.
-- A silence mutes notifications of the alerts it matches while it is active: every non-NULL
-- matcher must equal the alert's (rule, run, project). Alerts are still recorded; their
-- deliveries are stored with status 'silenced' and the silence named in last_error.
CREATE TABLE silences (
    id         INTEGER PRIMARY KEY,
    rule       TEXT,
    run_id     TEXT,
    project    TEXT,
    starts_at  REAL NOT NULL,
    ends_at    REAL NOT NULL,
    comment    TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    expired_at REAL                                  -- set when an admin ends it early
);
CREATE INDEX silences_active ON silences (ends_at);
