-- runwatch PostgreSQL schema, version 2: stored artifacts (SQLite's version 6, in PostgreSQL's types).
-- Bytes live in the blob store (collector/artifacts); these tables say what they are.
-- `blobs` is written by the API once a blob's bytes are committed; everything else only by
-- the collector, from `artifact` events. (The `artifacts` table of version 1 keeps the
-- references an event named by URI only: recorded, never downloadable.)
CREATE TABLE blobs (
    sha256     text COLLATE "C" PRIMARY KEY,
    size       bigint NOT NULL,
    first_seen float8 NOT NULL
);

CREATE TABLE artifact_versions (
    id         bigserial PRIMARY KEY,
    run_id     text COLLATE "C" NOT NULL,             -- the producer
    project    text COLLATE "C" NOT NULL,
    name       text COLLATE "C" NOT NULL,
    version    integer NOT NULL,                      -- 1, 2, ... per (project, name)
    type       text COLLATE "C" NOT NULL,
    metadata   text NOT NULL DEFAULT '{}',            -- JSON
    created_at float8 NOT NULL,                       -- the event's ts (emitter clock)
    writer     text COLLATE "C" NOT NULL,
    seq        bigint NOT NULL,
    size       bigint NOT NULL,                       -- of every file
    digest     text NOT NULL,                         -- one file: its sha256; several: the manifest's
    UNIQUE (project, name, version),
    UNIQUE (run_id, writer, seq)                      -- one event can create one version only
);
CREATE INDEX artifact_versions_run ON artifact_versions (run_id);

CREATE TABLE artifact_files (
    version_id bigint NOT NULL,
    path       text COLLATE "C" NOT NULL,             -- inside the artifact
    sha256     text COLLATE "C" NOT NULL,
    size       bigint NOT NULL,
    PRIMARY KEY (version_id, path)
);

CREATE TABLE artifact_aliases (
    project    text COLLATE "C" NOT NULL,
    name       text COLLATE "C" NOT NULL,
    alias      text COLLATE "C" NOT NULL,
    version_id bigint NOT NULL,
    set_at     float8 NOT NULL,
    PRIMARY KEY (project, name, alias)
);

-- Every time an alias is set or moved: from_version_id is NULL when it was new.
CREATE TABLE artifact_alias_moves (
    id              bigserial PRIMARY KEY,
    project         text COLLATE "C" NOT NULL,
    name            text COLLATE "C" NOT NULL,
    alias           text COLLATE "C" NOT NULL,
    from_version_id bigint,
    to_version_id   bigint NOT NULL,
    run_id          text COLLATE "C" NOT NULL,
    at              float8 NOT NULL
);

-- Lineage: a run consumed a version (recorded once per pair).
CREATE TABLE artifact_uses (
    id         bigserial PRIMARY KEY,
    run_id     text COLLATE "C" NOT NULL,
    version_id bigint NOT NULL,
    at         float8 NOT NULL,
    UNIQUE (run_id, version_id)
);
CREATE INDEX artifact_uses_version ON artifact_uses (version_id);

CREATE TABLE artifact_rejections (
    id     bigserial PRIMARY KEY,
    run_id text COLLATE "C" NOT NULL,
    writer text COLLATE "C" NOT NULL,
    seq    bigint NOT NULL,
    name   text COLLATE "C" NOT NULL,
    role   text COLLATE "C" NOT NULL,
    reason text NOT NULL,
    at     float8 NOT NULL,
    UNIQUE (run_id, writer, seq)
);
CREATE INDEX artifact_rejections_run ON artifact_rejections (run_id);
