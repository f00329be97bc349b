-- runwatch SQLite schema: the audit trail, and who promoted an alias.
-- Every change made through the API or the CLI (tokens, silences, alias moves, notes, tags,
-- deletions, rule reloads) is appended here; rows are never updated or deleted by runwatch.
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at     REAL NOT NULL,
    who    TEXT NOT NULL,                    -- a token's name, or the OS user of the CLI
    source TEXT NOT NULL,                    -- the client address, or 'cli'
    action TEXT NOT NULL,                    -- dotted: token.create, alias.move, ...
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}'        -- JSON
);
CREATE INDEX audit_log_at ON audit_log (at);

-- NULL: set by an artifact event of the run; else who promoted the version (runwatch model promote).
ALTER TABLE artifact_alias_moves ADD COLUMN moved_by TEXT;
