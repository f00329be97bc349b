-- runwatch PostgreSQL schema, version 3 (SQLite's 7): idempotency per (run, writer), never per
-- writer alone, so an entry can only move the claims and watermark of the run it names.
ALTER TABLE writers DROP CONSTRAINT writers_writer_key;
ALTER TABLE writers ADD CONSTRAINT writers_run_writer UNIQUE (run_id, writer);
