"""The SQLite store: the default, one file under ``$RUNWATCH_HOME``, WAL mode.

Points live in packed chunks (``chunks.py``), which keep every float64 bit pattern;
summaries and rollups store REALs plus exact bits for NaN and -0.0 (``exact.py``).
"""

from __future__ import annotations

import importlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from functools import partial
from importlib import resources
from itertools import groupby
from pathlib import Path
from typing import Any

from emitter.events import Batch, Event, Kind, RunStatus

from . import chunks
from .alerts_sql import AlertsTables
from .base import DeadLetter, MetricSummary, Point, RunRecord, WriteHook, WriteResult
from .columns import Summary, add_segment
from .exact import from_columns, to_columns
from .rollups import top_level, update_rollups

_RAW_LIMIT = 64 << 10
logger = logging.getLogger(__name__)
_ENDED = (RunStatus.FINISHED.value, RunStatus.FAILED.value, RunStatus.KILLED.value)


def _migrations() -> list[str]:
    """Schema migrations in order: ``sqlite_NNNN_*.sql`` (or ``.py`` with ``migrate(db)``) files."""
    files = resources.files("collector.store.migrations").iterdir()
    return sorted(f.name for f in files if f.name.startswith("sqlite_") and f.name.endswith((".sql", ".py")))


def _apply_migration(db: sqlite3.Connection, name: str) -> None:
    if name.endswith(".py"):
        module = importlib.import_module(f"collector.store.migrations.{name[:-3]}")
        module.migrate(db)
        return
    sql = resources.files("collector.store.migrations").joinpath(name).read_text()
    for statement in sql.split(";\n"):
        if statement.strip():
            db.execute(statement)


def _by_writer(batches: Sequence[Batch]) -> list[Batch]:
    """One batch per writer, in first-seen order, events by seq without repeats.

    A busy commit holds many small entries of the same writer; applying them together
    costs one idempotency check and one run update instead of one per entry.
    """
    grouped: dict[str, list[Batch]] = {}
    for batch in batches:
        grouped.setdefault(batch.writer, []).append(batch)
    merged = []
    for group in grouped.values():
        if len(group) == 1:
            merged.append(group[0])
            continue
        events = sorted((e for b in group for e in b.events), key=lambda e: e.seq)
        unique = [e for i, e in enumerate(events) if i == 0 or e.seq != events[i - 1].seq]
        merged.append(Batch(group[0].run_id, group[0].writer, unique))
    return merged


def _seq_ranges(events: list[Event]) -> list[list[int]]:
    """Seqs (ascending) as ``[lo, hi]`` runs."""
    ranges: list[list[int]] = []
    for event in events:
        if ranges and event.seq == ranges[-1][1] + 1:
            ranges[-1][1] = event.seq
        else:
            ranges.append([event.seq, event.seq])
    return ranges


def _nothing() -> None:
    return None


class SQLiteStore(AlertsTables):
    """The default store. Thread-safe by a lock; the consumer writes from one thread.

    >>> store = SQLiteStore(Path(".runwatch/runwatch.db"))
    >>> store.write(batches, dead=[], now=time.time()).watermarks
    {'9f2c...': 1999}
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute("PRAGMA cache_size=-65536")
        self._lock = threading.RLock()
        self._series: dict[str, dict[str, int]] = {}  # run → key → series id
        self._known_runs: set[str] = set()
        self._bounds: dict[int, tuple[int | None, int | None]] = {}  # series -> lowest, highest step stored
        self._data_version: int | None = None  # PRAGMA data_version at our last write: others' commits change it
        self._writer_id = 0  # the writer of the batch being applied
        self.hooks: list[WriteHook] = []
        self._checkpoint_interval: float | None = None  # None: SQLite checkpoints inside commits
        self._next_checkpoint = 0.0
        self._migrate()

    def __repr__(self) -> str:
        return f"<SQLiteStore path={self.path}>"

    # ------------------------------------------------------------------ schema

    def _migrate(self) -> None:
        with self._lock:
            self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            for version, name in enumerate(_migrations(), start=1):
                self._db.execute("BEGIN IMMEDIATE")  # another process may be migrating right now
                current = self._db.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
                if version <= current:
                    self._db.execute("COMMIT")
                    continue
                try:
                    _apply_migration(self._db, name)
                    self._db.execute("INSERT INTO schema_version VALUES (?)", (version,))
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("SELECT max(version) FROM schema_version").fetchone()[0])

    # ------------------------------------------------------------------ writing

    def write(self, batches: Sequence[Batch], dead: Sequence[DeadLetter], now: float) -> WriteResult:
        """Apply batches and dead letters in one transaction; redeliveries change nothing."""
        result = WriteResult()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._forget_if_written_elsewhere()
                for batch in _by_writer(batches):
                    fresh = self._claim_seqs(batch, now, result)
                    if fresh:
                        self._apply(batch.run_id, fresh, now, result)
                for letter in dead:
                    self._insert_dead_letter(letter)
                for hook in self.hooks:
                    hook(result.applied, now)
                self._db.execute("COMMIT")
            except BaseException:
                self._series.clear()  # ids handed out inside the failed transaction are gone
                self._known_runs.clear()
                self._bounds.clear()
                if self._db.in_transaction:  # SQLite may have rolled back already (disk full, I/O error)
                    self._db.execute("ROLLBACK")
                for hook in self.hooks:
                    getattr(hook, "after_rollback", _nothing)()
                raise
        for hook in self.hooks:
            getattr(hook, "after_commit", _nothing)()
        return result

    def _forget_if_written_elsewhere(self) -> None:
        """Another connection committed since our last transaction: cached series bounds may be stale.

        One collector writes a store; the CLI (tokens, silences) and a second store object may too.
        """
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self._bounds.clear()
            self._data_version = version

    def _claim_seqs(self, batch: Batch, now: float, result: WriteResult) -> list[Event]:
        """Keep only events this writer has not committed before, and record them as committed."""
        db = self._db
        row = db.execute("SELECT id, committed, extra FROM writers WHERE writer = ?", (batch.writer,)).fetchone()
        if row is None:
            committed, extra = -1, []
            env = next((e.payload.get("env", {}) for e in batch.events if e.kind == Kind.RUN_START), {})
            self._writer_id = db.execute(
                "INSERT INTO writers (writer, run_id, committed, extra, started_at, env) VALUES (?, ?, -1, '[]', ?, ?)",
                (batch.writer, batch.run_id, now, json.dumps(env, default=str)),
            ).lastrowid
        else:
            self._writer_id, committed, extra = row[0], row[1], json.loads(row[2])
        if extra:
            fresh = [e for e in batch.events if e.seq > committed and not any(lo <= e.seq <= hi for lo, hi in extra)]
        else:
            fresh = [e for e in batch.events if e.seq > committed]
        result.duplicates += len(batch.events) - len(fresh)
        if fresh:
            ranges = sorted([*extra, *_seq_ranges(fresh)])
            merged: list[list[int]] = []
            for lo, hi in ranges:
                if merged and lo <= merged[-1][1] + 1:
                    merged[-1][1] = max(merged[-1][1], hi)
                else:
                    merged.append([lo, hi])
            while merged and merged[0][0] <= committed + 1:
                committed = max(committed, merged.pop(0)[1])
            db.execute(
                "UPDATE writers SET committed = ?, extra = ? WHERE writer = ?",
                (committed, json.dumps(merged), batch.writer),
            )
        result.watermarks[batch.writer] = committed
        return fresh

    def _apply(self, run_id: str, events: list[Event], now: float, result: WriteResult) -> None:
        db = self._db
        self._ensure_run(run_id, events, now)
        wid = self._writer_id
        self._series.setdefault(run_id, {})
        pending: dict[tuple[int, int], chunks.Pending] = {}
        summary: dict[int, Summary] = {}
        last_step: int | None = None
        heartbeat = False
        points = 0
        metrics: list[Event] = []
        for event in events:
            kind = event.kind
            if kind == "metrics" or kind == "system":
                metrics.append(event)
            elif kind == "heartbeat":
                heartbeat = True
            else:
                self._apply_other(run_id, event, now)
        # consecutive events logging the same keys are one segment (see columns.py)
        for (kind, keys), grouped in groupby(metrics, key=lambda e: (e.kind, tuple(e.payload["values"]))):
            segment = list(grouped)
            top = add_segment(segment, keys, partial(self._series_for, run_id, kind), pending, summary)
            points += len(segment) * len(keys)
            if last_step is None or top > last_step:
                last_step = top
        if points:
            tops = self._rollup_levels(pending)  # before the chunks: bounds are read from them once
            chunks.insert(db, wid, pending)
            update_rollups(db, pending, tops)
            self._update_summaries(summary)
            result.points += points
        db.execute(
            "UPDATE runs SET updated_at = ?, last_event_at = ?,"
            " last_heartbeat_at = CASE WHEN ? THEN ? ELSE last_heartbeat_at END,"
            " last_progress_at = CASE WHEN ? IS NOT NULL AND (last_step IS NULL OR ? > last_step)"
            " THEN ? ELSE last_progress_at END,"
            " last_step = CASE WHEN ? IS NOT NULL AND (last_step IS NULL OR ? > last_step) THEN ? ELSE last_step END,"
            " status = CASE WHEN status = 'lost' THEN 'running' ELSE status END"
            " WHERE id = ?",
            (now, now, heartbeat, now, last_step, last_step, now, last_step, last_step, last_step, run_id),
        )
        result.applied.extend(events)

    def _update_summaries(self, summary: dict[int, Summary]) -> None:
        """Fold each series' batch summary into its row in one statement (no read first).

        ``last`` moves only for a step at or past the stored one; min/max ignore NaN (a
        NaN-only batch leaves them alone). Every right-hand side sees the old row.
        """
        rows = []
        for sid, (step, last, low, high, count) in summary.items():
            if low != low:  # only NaNs in this batch
                low = high = None
            value, bits = to_columns(last)
            rows.append((step, value, step, bits, step, step, low, low, low, high, high, high, count, sid))
        self._db.executemany(
            "UPDATE series SET"
            " last = CASE WHEN last_step IS NULL OR ? >= last_step THEN ? ELSE last END,"
            " last_bits = CASE WHEN last_step IS NULL OR ? >= last_step THEN ? ELSE last_bits END,"
            " last_step = CASE WHEN last_step IS NULL OR ? >= last_step THEN ? ELSE last_step END,"
            " min = CASE WHEN ? IS NULL THEN min WHEN min IS NULL OR ? < min THEN ? ELSE min END,"
            " max = CASE WHEN ? IS NULL THEN max WHEN max IS NULL OR ? > max THEN ? ELSE max END,"
            " count = count + ?"
            " WHERE id = ?",
            rows,
        )

    def _rollup_levels(self, pending: dict[tuple[int, int], chunks.Pending]) -> dict[int, tuple[int, int]]:
        """Each series' coarsest kept rollup level before and after these points (see rollups.py)."""
        spans: dict[int, tuple[int, int]] = {}
        for (sid, _), points in pending.items():
            low, high = min(points.steps), max(points.steps)
            if sid in spans:
                low, high = min(low, spans[sid][0]), max(high, spans[sid][1])
            spans[sid] = (low, high)
        tops: dict[int, tuple[int, int]] = {}
        for sid, (low, high) in spans.items():
            known = self._bounds.get(sid)
            if known is None:  # first time this process sees the series: its stored points say
                known = chunks.step_bounds(lambda sql, args: self._db.execute(sql, args).fetchall(), sid)
            old_low, old_high = known
            new = (low, high) if old_low is None or old_high is None else (min(low, old_low), max(high, old_high))
            self._bounds[sid] = new
            tops[sid] = (top_level(*known), top_level(*new))
        return tops

    def _series_for(self, run_id: str, kind: str, key: str) -> int:
        return self._series[run_id].get(key) or self._series_id(run_id, key, kind)

    def _series_id(self, run_id: str, key: str, kind: str) -> int:
        db = self._db
        row = db.execute("SELECT id FROM series WHERE run_id = ? AND key = ?", (run_id, key)).fetchone()
        if row is None:
            sid = db.execute("INSERT INTO series (run_id, key, kind) VALUES (?, ?, ?)", (run_id, key, kind)).lastrowid
            assert sid is not None
        else:
            sid = row[0]
        self._series.setdefault(run_id, {})[key] = sid
        return sid

    def _ensure_run(self, run_id: str, events: list[Event], now: float) -> None:
        """Create the run on its first event; a run.start for an existing run resumes it."""
        if run_id in self._known_runs and not any(e.kind == Kind.RUN_START for e in events):
            return
        db = self._db
        exists = db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is not None
        start = next((e for e in events if e.kind == Kind.RUN_START), None)
        if not exists:
            if start is not None:
                p = start.payload
                db.execute(
                    "INSERT INTO runs (id, project, name, grp, tags, notes, status, created_at, updated_at, env)"
                    " VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                    (
                        run_id,
                        p["project"],
                        p.get("name") or run_id,
                        p.get("group"),
                        json.dumps(sorted(set(p.get("tags", [])))),
                        p.get("notes") or "",
                        start.ts,
                        now,
                        json.dumps(p.get("env", {}), default=str),
                    ),
                )
                self._upsert_params(run_id, p.get("config") or {})
            else:  # its run.start is missing (dead-lettered, or still in flight elsewhere)
                db.execute(
                    "INSERT INTO runs (id, project, name, status, created_at, updated_at)"
                    " VALUES (?, 'unknown', ?, 'running', ?, ?)",
                    (run_id, run_id, events[0].ts, now),
                )
        elif start is not None:
            self._resume(run_id, start, now)
        self._known_runs.add(run_id)

    def _resume(self, run_id: str, start: Event, now: float) -> None:
        """A resumed run keeps everything stored; it only gains tags, notes and new params."""
        db = self._db
        p = start.payload
        row = db.execute("SELECT project, tags, notes FROM runs WHERE id = ?", (run_id,)).fetchone()
        project, tags_json, notes = row
        tags = sorted(set(json.loads(tags_json)) | set(p.get("tags", [])))
        new_notes = p.get("notes") or ""
        if new_notes and new_notes not in notes:
            notes = f"{notes}\n{new_notes}" if notes else new_notes
        if project == "unknown":  # the placeholder created before its run.start arrived
            db.execute(
                "UPDATE runs SET project = ?, name = ?, grp = ?, env = ?, created_at = min(created_at, ?) WHERE id = ?",
                (
                    p["project"],
                    p.get("name") or run_id,
                    p.get("group"),
                    json.dumps(p.get("env", {}), default=str),
                    start.ts,
                    run_id,
                ),
            )
        db.execute("UPDATE runs SET tags = ?, notes = ? WHERE id = ?", (json.dumps(tags), notes, run_id))
        config = p.get("config") or {}
        for key, value in config.items():
            db.execute(
                "INSERT OR IGNORE INTO params (run_id, key, value) VALUES (?, ?, ?)",
                (run_id, key, json.dumps(value, default=str)),
            )

    def _upsert_params(self, run_id: str, params: dict[str, Any]) -> None:
        self._db.executemany(
            "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)"
            " ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
            [(run_id, key, json.dumps(value, default=str)) for key, value in params.items()],
        )

    def _apply_other(self, run_id: str, event: Event, now: float) -> None:
        db = self._db
        p = event.payload
        kind = event.kind
        if kind == Kind.RUN_START:
            return  # handled by _ensure_run
        if kind == Kind.PARAMS:
            self._upsert_params(run_id, p["params"])
        elif kind == Kind.STATUS:
            status = p["status"]
            exit_info = {k: v for k, v in p.items() if k != "status"}
            ended = now if status in _ENDED else None
            db.execute(
                "UPDATE runs SET status = ?, ended_at = ?,"
                " exit_info = CASE WHEN ? = '{}' THEN exit_info ELSE ? END WHERE id = ?",
                (status, ended, json.dumps(exit_info), json.dumps(exit_info, default=str), run_id),
            )
        elif kind == Kind.TAGS:
            row = db.execute("SELECT tags FROM runs WHERE id = ?", (run_id,)).fetchone()
            tags = sorted(set(json.loads(row[0])) | set(p["tags"]))
            db.execute("UPDATE runs SET tags = ? WHERE id = ?", (json.dumps(tags), run_id))
        elif kind == Kind.NOTE:
            db.execute("INSERT INTO notes (run_id, ts, text) VALUES (?, ?, ?)", (run_id, event.ts, p["text"]))
        elif kind == Kind.ARTIFACT:
            db.execute(
                "INSERT INTO artifacts (run_id, ts, name, uri, size, sha256) VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, event.ts, p["name"], p["uri"], p.get("size"), p.get("sha256")),
            )
        elif kind == Kind.ALERT:
            db.execute(
                "INSERT INTO user_alerts (run_id, ts, title, text, level) VALUES (?, ?, ?, ?, ?)",
                (run_id, event.ts, p["title"], p["text"], p["level"]),
            )

    def _insert_dead_letter(self, letter: DeadLetter) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO dead_letters (stream, entry_id, reason, run_id, size, raw, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                letter.stream,
                letter.entry_id,
                letter.reason,
                letter.run_id,
                letter.size,
                letter.raw[:_RAW_LIMIT],
                letter.received_at,
            ),
        )

    # ------------------------------------------------------------- bookkeeping

    def record_failure(self, stream: str, entry_id: str) -> int:
        with self._lock:
            self._db.execute(
                "INSERT INTO entry_failures (stream, entry_id, attempts) VALUES (?, ?, 1)"
                " ON CONFLICT (stream, entry_id) DO UPDATE SET attempts = attempts + 1",
                (stream, entry_id),
            )
            row = self._db.execute(
                "SELECT attempts FROM entry_failures WHERE stream = ? AND entry_id = ?", (stream, entry_id)
            ).fetchone()
        return int(row[0])

    def clear_failures(self, entries: Sequence[tuple[str, str]]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM entry_failures WHERE stream = ? AND entry_id = ?", entries)

    def watermark(self, writer: str) -> int:
        row = self._read("SELECT committed FROM writers WHERE writer = ?", (writer,))
        return int(row[0][0]) if row else -1

    def mark_lost(self, run_ids: Sequence[str], now: float) -> list[str]:
        return self.transaction(lambda: self.mark_lost_in_tx(run_ids, now))

    # ------------------------------------------------------------------ reading

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def get_run(self, ref: str) -> RunRecord | None:
        rows = self._read(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (ref,))
        if not rows:
            rows = self._read(f"SELECT {_RUN_COLUMNS} FROM runs WHERE name = ? LIMIT 2", (ref,))
            if len(rows) != 1:
                return None
        return self._with_details(_run_record(rows[0]))

    def runs_named(self, name: str) -> list[str]:
        return [row[0] for row in self._read("SELECT id FROM runs WHERE name = ?", (name,))]

    def list_runs(self, *, project: str | None = None, limit: int = 50) -> list[RunRecord]:
        if project is None:
            rows = self._read(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY created_at DESC LIMIT ?", (limit,))
        else:
            rows = self._read(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE project = ? ORDER BY created_at DESC LIMIT ?", (project, limit)
            )
        return [self._with_details(_run_record(row)) for row in rows]

    def _with_details(self, run: RunRecord) -> RunRecord:
        for key, value in self._read("SELECT key, value FROM params WHERE run_id = ? ORDER BY key", (run.id,)):
            run.params[key] = json.loads(value)
        for key, last, bits, step, low, high, count in self._read(
            "SELECT key, last, last_bits, last_step, min, max, count FROM series WHERE run_id = ? ORDER BY key",
            (run.id,),
        ):
            run.metrics[key] = MetricSummary(key, from_columns(last, bits), step, low, high, count)
        return run

    def points(self, run_id: str, keys: Sequence[str] | None = None) -> Iterator[Point]:
        series = self._read("SELECT id, key FROM series WHERE run_id = ? ORDER BY key", (run_id,))
        for sid, key in series:
            if keys is not None and key not in keys:
                continue
            low, high = chunks.step_bounds(self._read, sid)
            if low is None or high is None:
                continue
            for step, ts, value in chunks.points(self._read, sid, low, high):
                yield Point(step, ts, key, value)

    def count_points(self, run_id: str | None = None) -> int:
        if run_id is None:
            return int(self._read("SELECT coalesce(sum(n), 0) FROM point_chunks")[0][0])
        return int(
            self._read(
                "SELECT coalesce(sum(n), 0) FROM point_chunks WHERE series IN (SELECT id FROM series WHERE run_id = ?)",
                (run_id,),
            )[0][0]
        )

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        rows = self._read(
            "SELECT stream, entry_id, reason, run_id, size, raw, received_at FROM dead_letters ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [DeadLetter(s, e, r, run, size, raw or b"", at) for s, e, r, run, size, raw, at in rows]

    def notes(self, run_id: str) -> list[tuple[float, str]]:
        return [
            (ts, text) for ts, text in self._read("SELECT ts, text FROM notes WHERE run_id = ? ORDER BY id", (run_id,))
        ]

    def checkpoint_when_idle(self, interval: float = 1.0, cap_pages: int = 4096) -> None:
        """Checkpoint the WAL between commits, not inside one (the collector calls this).

        SQLite otherwise checkpoints inside the COMMIT that crosses ``wal_autocheckpoint``
        pages. Here that stays as a cap (16 MB of WAL: heavy load still reaches it between
        idle moments), and ``idle()`` checkpoints at most every ``interval`` seconds. The
        writer's own connection does it: then the WAL restarts from its beginning. A
        second, checkpointing connection (tried) keeps the WAL from ever restarting under
        steady writes, so it grows to the cap and every later COMMIT checkpoints inline,
        with fsyncs: 30 ms stalls three times a second at 120,000 points/s.
        """
        if str(self.path) == ":memory:":
            return
        with self._lock:
            self._db.execute(f"PRAGMA wal_autocheckpoint={int(cap_pages)}")
        self._checkpoint_interval = interval
        self._next_checkpoint = time.monotonic() + interval

    def idle(self) -> None:
        """A WAL checkpoint when one is due (see ``checkpoint_when_idle``)."""
        if self._checkpoint_interval is None or time.monotonic() < self._next_checkpoint:
            return
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:
                logger.warning("WAL checkpoint failed: %s", exc)
        self._next_checkpoint = time.monotonic() + self._checkpoint_interval

    def close(self) -> None:
        with self._lock:
            self._db.close()


_RUN_COLUMNS = (
    "id, project, name, grp, tags, notes, status, created_at, updated_at, ended_at,"
    " last_event_at, last_heartbeat_at, last_step, env, exit_info"
)


def _run_record(row: Sequence[Any]) -> RunRecord:
    (
        rid,
        project,
        name,
        group,
        tags,
        notes,
        status,
        created,
        updated,
        ended,
        last_event,
        last_hb,
        last_step,
        env,
        exit_info,
    ) = row
    return RunRecord(
        id=rid,
        project=project,
        name=name,
        group=group,
        tags=json.loads(tags),
        notes=notes,
        status=status,
        created_at=created,
        updated_at=updated,
        ended_at=ended,
        last_event_at=last_event,
        last_heartbeat_at=last_hb,
        last_step=last_step,
        env=json.loads(env),
        exit_info=json.loads(exit_info),
    )
