-- runwatch PostgreSQL schema: the audit trail, and who promoted an alias (as SQLite's sqlite_0009).
CREATE TABLE audit_log (
    id     bigserial PRIMARY KEY,
    at     float8 NOT NULL,
    who    text COLLATE "C" NOT NULL,
    source text COLLATE "C" NOT NULL,
    action text COLLATE "C" NOT NULL,
    target text COLLATE "C" NOT NULL DEFAULT '',
    detail text NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);

ALTER TABLE artifact_alias_moves ADD COLUMN moved_by text COLLATE "C";
