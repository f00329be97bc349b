-- runwatch SQLite schema, version 7: idempotency per (run, writer), never per writer alone.
-- A writer id was unique on its own, so an entry naming another run under a known writer id
-- was applied to that writer's claims and could move its watermark. Each (run_id, writer) now
-- has claims of its own; existing rows are unique per writer, so per (run, writer) too.
CREATE TABLE writers_by_run (
    id         INTEGER PRIMARY KEY,
    writer     TEXT NOT NULL,
    run_id     TEXT NOT NULL,
    committed  INTEGER NOT NULL,
    extra      TEXT NOT NULL DEFAULT '[]',
    started_at REAL NOT NULL,
    env        TEXT NOT NULL DEFAULT '{}',
    UNIQUE (run_id, writer)
);
INSERT INTO writers_by_run (id, writer, run_id, committed, extra, started_at, env)
    SELECT id, writer, run_id, committed, extra, started_at, env FROM writers;
DROP TABLE writers;
ALTER TABLE writers_by_run RENAME TO writers;
