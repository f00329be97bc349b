-- runwatch SQLite schema, version 6: stored artifacts.
-- Bytes live in the blob store (collector/artifacts); these tables say what they are.
-- `blobs` is written by the API once a blob's bytes are committed; everything else only by
-- the collector, from `artifact` events. (The `artifacts` table of version 1 keeps the
-- references an event named by URI only: recorded, never downloadable.)
CREATE TABLE blobs (
    sha256     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    first_seen REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE artifact_versions (
    id         INTEGER PRIMARY KEY,
    run_id     TEXT NOT NULL,                         -- the producer
    project    TEXT NOT NULL,
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,                      -- 1, 2, ... per (project, name)
    type       TEXT NOT NULL,
    metadata   TEXT NOT NULL DEFAULT '{}',            -- JSON
    created_at REAL NOT NULL,                         -- the event's ts (emitter clock)
    writer     TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    size       INTEGER NOT NULL,                      -- of every file
    digest     TEXT NOT NULL,                         -- one file: its sha256; several: the manifest's
    UNIQUE (project, name, version),
    UNIQUE (run_id, writer, seq)                      -- one event can create one version only
);
CREATE INDEX artifact_versions_run ON artifact_versions (run_id);

CREATE TABLE artifact_files (
    version_id INTEGER NOT NULL,
    path       TEXT NOT NULL,                         -- inside the artifact
    sha256     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    PRIMARY KEY (version_id, path)
) WITHOUT ROWID;

CREATE TABLE artifact_aliases (
    project    TEXT NOT NULL,
    name       TEXT NOT NULL,
    alias      TEXT NOT NULL,
    version_id INTEGER NOT NULL,
    set_at     REAL NOT NULL,
    PRIMARY KEY (project, name, alias)
) WITHOUT ROWID;

-- Every time an alias is set or moved: from_version_id is NULL when it was new.
CREATE TABLE artifact_alias_moves (
    id              INTEGER PRIMARY KEY,
    project         TEXT NOT NULL,
    name            TEXT NOT NULL,
    alias           TEXT NOT NULL,
    from_version_id INTEGER,
    to_version_id   INTEGER NOT NULL,
    run_id          TEXT NOT NULL,
    at              REAL NOT NULL
);

-- Lineage: a run consumed a version (recorded once per pair).
CREATE TABLE artifact_uses (
    id         INTEGER PRIMARY KEY,
    run_id     TEXT NOT NULL,
    version_id INTEGER NOT NULL,
    at         REAL NOT NULL,
    UNIQUE (run_id, version_id)
);
CREATE INDEX artifact_uses_version ON artifact_uses (version_id);

CREATE TABLE artifact_rejections (
    id     INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    writer TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    name   TEXT NOT NULL,
    role   TEXT NOT NULL,
    reason TEXT NOT NULL,
    at     REAL NOT NULL,
    UNIQUE (run_id, writer, seq)
);
CREATE INDEX artifact_rejections_run ON artifact_rejections (run_id);
