"""The SQLite write path: idempotency claims, metric points, summaries, rollups, dead letters.

``Ingest.write`` applies a commit's batches in one transaction. Per writer it first
claims the seqs not committed before (``writers.committed`` plus ``extra`` ranges past a
gap), so a redelivered or replayed batch changes nothing; then it stores metric events
as packed chunks (``chunks.py``) with their per-series summary and rollups, and hands
every other event to ``RunEvents``. Write hooks (alerting) run inside the transaction
and hear of its commit or rollback.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial
from itertools import groupby
from typing import Any

from emitter.events import VALUE_KINDS, Batch, Event, Kind

from ..base import DeadLetter, WriteHook, WriteResult
from ..format.chunks import Pending
from ..format.claims import by_writer, check_key_limit, claim
from ..format.columns import Summary, add_segment
from ..format.exact import to_columns
from ..format.rollups import top_level
from . import chunks
from .database import Database
from .rollups import update_rollups
from .run_events import RunEvents

_RAW_LIMIT = 64 << 10  # bytes of a dead entry kept for inspection


class Ingest:
    """Owns the write transaction and the caches that make small commits cheap.

    The caches (series ids, runs known to exist, each series' step bounds) are dropped
    when a transaction rolls back, and the bounds also when another connection committed
    in between (``PRAGMA data_version``).
    """

    def __init__(self, db: Database, hooks: list[WriteHook]) -> None:
        self._db = db
        self._conn = db.conn
        self._hooks = hooks
        self._runs = RunEvents(db.conn)
        self._series: dict[str, dict[str, int]] = {}  # run → key → series id
        self._bounds: dict[int, tuple[int | None, int | None]] = {}  # series -> lowest, highest step stored
        self._data_version: int | None = None  # PRAGMA data_version at our last write: others' commits change it
        self._writer_id = 0  # the writer of the batch being applied

    def write(self, batches: Sequence[Batch], dead: Sequence[DeadLetter], now: float) -> WriteResult:
        """Apply batches and dead letters in one transaction; redeliveries change nothing."""
        result = WriteResult()
        with self._db.lock:
            try:
                with self._db.transaction():
                    self._forget_if_written_elsewhere()
                    for batch in by_writer(batches):
                        fresh = self._claim_seqs(batch, now, result)
                        if fresh:
                            self._apply(batch.run_id, fresh, now, result)
                    for letter in dead:
                        self._insert_dead_letter(letter)
                    for hook in self._hooks:
                        hook(result.applied, now)
            except BaseException:
                self._series.clear()  # ids handed out inside the failed transaction are gone
                self._runs.forget()
                self._bounds.clear()
                for hook in self._hooks:
                    hook.after_rollback()
                raise
        for hook in self._hooks:
            hook.after_commit()
        return result

    def record_failure(self, stream: str, entry_id: str) -> int:
        """Count a failed attempt at an entry (survives restarts); returns the total."""
        with self._db.lock:
            self._conn.execute(
                "INSERT INTO entry_failures (stream, entry_id, attempts) VALUES (?, ?, 1)"
                " ON CONFLICT (stream, entry_id) DO UPDATE SET attempts = attempts + 1",
                (stream, entry_id),
            )
            row = self._conn.execute(
                "SELECT attempts FROM entry_failures WHERE stream = ? AND entry_id = ?", (stream, entry_id)
            ).fetchone()
        return int(row[0])

    def clear_failures(self, entries: Sequence[tuple[str, str]]) -> None:
        self._db.executemany("DELETE FROM entry_failures WHERE stream = ? AND entry_id = ?", entries)

    def watermark(self, run_id: str, writer: str) -> int:
        rows = self._db.read("SELECT committed FROM writers WHERE run_id = ? AND writer = ?", (run_id, writer))
        return int(rows[0][0]) if rows else -1

    def _forget_if_written_elsewhere(self) -> None:
        """Another connection committed since our last transaction: cached series bounds may be stale.

        One collector writes a store; the CLI (tokens, silences) and a second store object may too.
        """
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self._bounds.clear()
            self._data_version = version

    def _claim_seqs(self, batch: Batch, now: float, result: WriteResult) -> list[Event]:
        """Keep only events this writer has not committed before, and record them as committed."""
        db = self._conn
        row = db.execute(
            "SELECT id, committed, extra FROM writers WHERE run_id = ? AND writer = ?", (batch.run_id, batch.writer)
        ).fetchone()
        if row is None:
            committed, extra = -1, []
            env: dict[str, Any] = next((e.payload.get("env", {}) for e in batch.events if e.kind == Kind.RUN_START), {})
            cursor = db.execute(
                "INSERT INTO writers (writer, run_id, committed, extra, started_at, env) VALUES (?, ?, -1, '[]', ?, ?)",
                (batch.writer, batch.run_id, now, json.dumps(env, default=str)),
            )
            self._writer_id = int(cursor.lastrowid or 0)
        else:
            self._writer_id, committed, extra = row[0], row[1], json.loads(row[2])
        fresh, new_committed, new_extra = claim(batch.events, committed, extra)
        result.duplicates += len(batch.events) - len(fresh)
        if fresh:
            committed = new_committed
            db.execute(
                "UPDATE writers SET committed = ?, extra = ? WHERE id = ?",
                (committed, json.dumps(new_extra), self._writer_id),
            )
        result.watermarks[(batch.run_id, batch.writer)] = committed
        return fresh

    def _apply(self, run_id: str, events: list[Event], now: float, result: WriteResult) -> None:
        db = self._conn
        self._runs.ensure(run_id, events, now)
        wid = self._writer_id
        self._series.setdefault(run_id, {})
        pending: dict[tuple[int, int], Pending] = {}
        summary: dict[int, Summary] = {}
        last_step: int | None = None
        heartbeat = False
        points = 0
        metrics: list[Event] = []
        for event in events:
            kind = event.kind
            if kind in VALUE_KINDS:
                metrics.append(event)
            elif kind == "heartbeat":
                heartbeat = True
            else:
                self._runs.apply(run_id, event, now)
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
        self._conn.executemany(
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

    def _rollup_levels(self, pending: dict[tuple[int, int], Pending]) -> dict[int, tuple[int, int]]:
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
                known = chunks.step_bounds(lambda sql, args: self._conn.execute(sql, args).fetchall(), sid)
            old_low, old_high = known
            new = (low, high) if old_low is None or old_high is None else (min(low, old_low), max(high, old_high))
            self._bounds[sid] = new
            tops[sid] = (top_level(*known), top_level(*new))
        return tops

    def _series_for(self, run_id: str, kind: str, key: str) -> int:
        return self._series[run_id].get(key) or self._series_id(run_id, key, kind)

    def _series_id(self, run_id: str, key: str, kind: str) -> int:
        db = self._conn
        row = db.execute("SELECT id FROM series WHERE run_id = ? AND key = ?", (run_id, key)).fetchone()
        if row is None:
            keys = db.execute("SELECT count(*) FROM series WHERE run_id = ?", (run_id,)).fetchone()[0]
            check_key_limit(run_id, key, keys)
            sid = db.execute("INSERT INTO series (run_id, key, kind) VALUES (?, ?, ?)", (run_id, key, kind)).lastrowid
            assert sid is not None
        else:
            sid = row[0]
        self._series.setdefault(run_id, {})[key] = sid
        return sid

    def _insert_dead_letter(self, letter: DeadLetter) -> None:
        self._conn.execute(
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
