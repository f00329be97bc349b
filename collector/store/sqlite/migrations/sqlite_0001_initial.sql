-- runwatch SQLite schema, version 1.
CREATE TABLE runs (
    id                TEXT PRIMARY KEY,
    project           TEXT NOT NULL,
    name              TEXT NOT NULL,
    grp               TEXT,
    tags              TEXT NOT NULL DEFAULT '[]',   -- JSON list
    notes             TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL,
    created_at        REAL NOT NULL,                -- emitter clock (run.start ts)
    updated_at        REAL NOT NULL,                -- collector clock
    ended_at          REAL,
    last_event_at     REAL,                         -- collector clock: liveness is judged on it
    last_heartbeat_at REAL,                         -- collector clock
    last_step         INTEGER,
    env               TEXT NOT NULL DEFAULT '{}',   -- JSON: captured environment of the first writer
    exit_info         TEXT NOT NULL DEFAULT '{}'    -- JSON: exit code, traceback
);
CREATE INDEX runs_project ON runs (project, created_at);
CREATE INDEX runs_name ON runs (name);
CREATE INDEX runs_status ON runs (status);

CREATE TABLE params (
    run_id TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,                           -- JSON
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

-- One row per (run, metric key): the series id and its summary.
CREATE TABLE series (
    id        INTEGER PRIMARY KEY,
    run_id    TEXT NOT NULL,
    key       TEXT NOT NULL,
    kind      TEXT NOT NULL,                        -- metrics | system
    last      REAL,
    last_bits INTEGER,                              -- set when last is NaN or -0.0 (SQLite loses them)
    last_step INTEGER,
    min       REAL,
    max       REAL,
    count     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (run_id, key)
);

-- Points, clustered by (series, step): a range of steps of one series is one b-tree scan,
-- and inserting is as cheap as into an unindexed heap. (writer_id, seq) makes two points
-- at the same step (a resumed run, a repeated step) distinct. value is NULL for NaN;
-- bits holds the exact float64 pattern of NaN and -0.0.
CREATE TABLE points (
    series    INTEGER NOT NULL,
    step      INTEGER NOT NULL,
    writer_id INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    ts        REAL NOT NULL,
    value     REAL,
    bits      INTEGER,
    PRIMARY KEY (series, step, writer_id, seq)
) WITHOUT ROWID;

-- Idempotency: per writer, every seq up to `committed` is stored; `extra` holds
-- committed ranges beyond a gap (JSON [[lo, hi], ...]) until the gap closes.
CREATE TABLE writers (
    id         INTEGER PRIMARY KEY,
    writer     TEXT NOT NULL UNIQUE,
    run_id     TEXT NOT NULL,
    committed  INTEGER NOT NULL,
    extra      TEXT NOT NULL DEFAULT '[]',
    started_at REAL NOT NULL,
    env        TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE notes (
    id     INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    ts     REAL NOT NULL,
    text   TEXT NOT NULL
);
CREATE INDEX notes_run ON notes (run_id);

CREATE TABLE artifacts (
    id     INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    ts     REAL NOT NULL,
    name   TEXT NOT NULL,
    uri    TEXT NOT NULL,
    size   INTEGER,
    sha256 TEXT
);
CREATE INDEX artifacts_run ON artifacts (run_id);

-- Alerts raised from training code with run.alert().
CREATE TABLE user_alerts (
    id     INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    ts     REAL NOT NULL,
    title  TEXT NOT NULL,
    text   TEXT NOT NULL,
    level  TEXT NOT NULL
);
CREATE INDEX user_alerts_run ON user_alerts (run_id);

CREATE TABLE dead_letters (
    id          INTEGER PRIMARY KEY,
    stream      TEXT NOT NULL,
    entry_id    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    run_id      TEXT,
    size        INTEGER NOT NULL,
    raw         BLOB,                               -- the first 64 KiB of the entry's body
    received_at REAL NOT NULL,
    UNIQUE (stream, entry_id)
);

-- Failed attempts per stream entry, counted by us: Redis's delivery counter resets on restart.
CREATE TABLE entry_failures (
    stream   TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    PRIMARY KEY (stream, entry_id)
) WITHOUT ROWID;
