"""The PostgreSQL write path: idempotency claims, metric points, summaries, rollups, dead letters.

The same steps as SQLite's ingest, shaped for a server a round trip away. A commit runs
in one transaction in pipeline mode, and asks the server for an answer only where it
needs one: the writers of the commit (one query, locked ``FOR UPDATE``), a run or a
series seen for the first time, and the step span of the series it touches (one query,
locked, so the rollup levels kept are decided on the true span even when another
collector wrote the series). Everything else — chunks, rollups, summaries, writers,
runs — is one set-based statement per table per commit over ``unnest``ed arrays, not a
statement per point or per series. Two writers of one series in one commit fold into one
row per rollup bucket and one summary update, later arrivals winning ties as they would
applied one after the other.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from emitter.events import VALUE_KINDS, Batch, Event, Kind

from ..base import DeadLetter, WriteHook, WriteResult
from ..format import rollups
from ..format.chunks import Pending, chunk_rows
from ..format.claims import by_writer, claim
from ..format.columns import Summary, add_segment, merge_summary
from ..format.exact import to_columns
from .database import Connection, Database
from .run_events import RunEvents

_RAW_LIMIT = 64 << 10  # bytes of a dead entry kept for inspection

_WRITERS = "SELECT writer, id, committed, extra FROM writers WHERE writer = ANY(%s::text[]) ORDER BY writer FOR UPDATE"
_CHUNKS = (
    "INSERT INTO point_chunks (series, bucket, writer_id, first_seq, n, data)"
    " SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::int[], %s::bytea[])"
)
_ROLLUP_COLUMNS = "series, level, bucket, count, nans, min, max, last_step, last, last_bits"
_ROLLUP_ARRAYS = (
    "unnest(%s::bigint[], %s::smallint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::float8[], %s::float8[],"
    " %s::bigint[], %s::float8[], %s::bigint[])"
)
_ROLLUP_UPSERT = (
    f"INSERT INTO rollups ({_ROLLUP_COLUMNS}) SELECT * FROM {_ROLLUP_ARRAYS}"
    " ON CONFLICT (series, level, bucket) DO UPDATE SET"
    " count = rollups.count + excluded.count,"
    " nans = rollups.nans + excluded.nans,"
    " min = CASE WHEN rollups.min IS NULL OR excluded.min < rollups.min"
    " THEN coalesce(excluded.min, rollups.min) ELSE rollups.min END,"
    " max = CASE WHEN rollups.max IS NULL OR excluded.max > rollups.max"
    " THEN coalesce(excluded.max, rollups.max) ELSE rollups.max END,"
    " last = CASE WHEN excluded.last_step >= rollups.last_step THEN excluded.last ELSE rollups.last END,"
    " last_bits = CASE WHEN excluded.last_step >= rollups.last_step THEN excluded.last_bits ELSE rollups.last_bits END,"
    " last_step = greatest(rollups.last_step, excluded.last_step)"
)
_ROLLUP_INSERT = f"INSERT INTO rollups ({_ROLLUP_COLUMNS}) SELECT * FROM {_ROLLUP_ARRAYS}"
# last moves only for a step at or past the stored one; min/max ignore NaN (NULL here: a NaN-only batch)
_SUMMARIES = (
    "UPDATE series AS s SET"
    " last = CASE WHEN s.last_step IS NULL OR u.step >= s.last_step THEN u.last ELSE s.last END,"
    " last_bits = CASE WHEN s.last_step IS NULL OR u.step >= s.last_step THEN u.bits ELSE s.last_bits END,"
    " last_step = CASE WHEN s.last_step IS NULL OR u.step >= s.last_step THEN u.step ELSE s.last_step END,"
    " min = CASE WHEN u.low IS NULL THEN s.min WHEN s.min IS NULL OR u.low < s.min THEN u.low ELSE s.min END,"
    " max = CASE WHEN u.high IS NULL THEN s.max WHEN s.max IS NULL OR u.high > s.max THEN u.high ELSE s.max END,"
    " count = s.count + u.n, low_step = u.low_step, high_step = u.high_step"
    " FROM unnest(%s::bigint[], %s::bigint[], %s::float8[], %s::bigint[], %s::float8[], %s::float8[], %s::bigint[],"
    " %s::bigint[], %s::bigint[]) AS u(id, step, last, bits, low, high, n, low_step, high_step)"
    " WHERE s.id = u.id"
)
_RUNS = (
    "UPDATE runs SET updated_at = %(now)s, last_event_at = %(now)s,"
    " last_heartbeat_at = CASE WHEN u.heartbeat THEN %(now)s ELSE runs.last_heartbeat_at END,"
    " last_progress_at = CASE WHEN u.step IS NOT NULL AND (runs.last_step IS NULL OR u.step > runs.last_step)"
    " THEN %(now)s ELSE runs.last_progress_at END,"
    " last_step = CASE WHEN u.step IS NOT NULL AND (runs.last_step IS NULL OR u.step > runs.last_step)"
    " THEN u.step ELSE runs.last_step END,"
    " status = CASE WHEN runs.status = 'lost' THEN 'running' ELSE runs.status END"
    " FROM unnest(%(ids)s::text[], %(heartbeats)s::bool[], %(steps)s::bigint[]) AS u(id, heartbeat, step)"
    " WHERE runs.id = u.id"
)


@dataclass(slots=True)
class _WriterPoints:
    """What one writer's metric events bring to the commit, before the series spans are known."""

    writer_id: int
    pending: dict[tuple[int, int], Pending]
    summary: dict[int, Summary]


@dataclass(slots=True)
class _Commit:
    """Everything one commit writes set-wise at its end."""

    writers: list[tuple[int, int, str]] = field(default_factory=list)  # id, committed, extra
    runs: dict[str, list[Any]] = field(default_factory=dict)  # run -> [heartbeat, highest step]
    points: list[_WriterPoints] = field(default_factory=list)


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows as ``width`` column lists (the arrays ``unnest`` takes)."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]


class Ingest:
    """Owns the write transaction and the caches that spare a commit its round trips.

    The caches (series ids, runs known to exist) hold only what never changes once
    committed; they are dropped when a transaction rolls back. One write at a time per
    store object; several processes writing one database are kept apart by row locks.
    """

    def __init__(self, db: Database, hooks: list[WriteHook]) -> None:
        self._db = db
        self._hooks = hooks
        self._lock = threading.Lock()
        self._runs = RunEvents()
        self._series: dict[str, dict[str, int]] = {}  # run → key → series id

    def write(self, batches: Sequence[Batch], dead: Sequence[DeadLetter], now: float) -> WriteResult:
        """Apply batches and dead letters in one transaction; redeliveries change nothing."""
        result = WriteResult()
        with self._lock:
            try:
                with self._db.transaction() as conn, conn.pipeline():
                    commit = _Commit()
                    merged = by_writer(batches)
                    writers = self._writers(conn, merged, now) if merged else {}
                    for batch in merged:
                        writer_id, committed, extra = writers[batch.writer]
                        fresh, committed, extra = claim(batch.events, committed, extra)
                        result.duplicates += len(batch.events) - len(fresh)
                        result.watermarks[batch.writer] = committed
                        if fresh:
                            commit.writers.append((writer_id, committed, json.dumps(extra)))
                            self._apply(conn, batch.run_id, writer_id, fresh, now, commit, result)
                    self._store_points(conn, commit.points)
                    self._finish(conn, commit, dead, now)
                    for hook in self._hooks:
                        hook(result.applied, now)
            except BaseException:
                self._series.clear()  # ids handed out inside the failed transaction are gone
                self._runs.forget()
                for hook in self._hooks:
                    hook.after_rollback()
                raise
        for hook in self._hooks:
            hook.after_commit()
        return result

    def record_failure(self, stream: str, entry_id: str) -> int:
        """Count a failed attempt at an entry (survives restarts); returns the total."""
        rows = self._db.read(
            "INSERT INTO entry_failures (stream, entry_id, attempts) VALUES (%s, %s, 1)"
            " ON CONFLICT (stream, entry_id) DO UPDATE SET attempts = entry_failures.attempts + 1 RETURNING attempts",
            (stream, entry_id),
        )
        return int(rows[0][0])

    def clear_failures(self, entries: Sequence[tuple[str, str]]) -> None:
        self._db.executemany("DELETE FROM entry_failures WHERE stream = %s AND entry_id = %s", entries)

    def watermark(self, writer: str) -> int:
        rows = self._db.read("SELECT committed FROM writers WHERE writer = %s", (writer,))
        return int(rows[0][0]) if rows else -1

    # ------------------------------------------------------------------ steps of a commit

    def _writers(self, conn: Connection, batches: list[Batch], now: float) -> dict[str, tuple[int, int, list[Any]]]:
        """Each writer's ``(id, committed, extra)``, locked; a writer seen for the first time is created."""
        names = [batch.writer for batch in batches]
        found = {w: (i, c, json.loads(e)) for w, i, c, e in conn.execute(_WRITERS, (names,)).fetchall()}
        new = [batch for batch in batches if batch.writer not in found]
        if new:
            rows = []
            for batch in new:
                env: dict[str, Any] = next(
                    (e.payload.get("env", {}) for e in batch.events if e.kind == Kind.RUN_START), {}
                )
                rows.append((batch.writer, batch.run_id, now, json.dumps(env, default=str)))
            conn.cursor().executemany(
                "INSERT INTO writers (writer, run_id, committed, extra, started_at, env)"
                " VALUES (%s, %s, -1, '[]', %s, %s) ON CONFLICT (writer) DO NOTHING",
                rows,
            )
            again = conn.execute(_WRITERS, ([batch.writer for batch in new],)).fetchall()
            found.update({w: (i, c, json.loads(e)) for w, i, c, e in again})
        return found

    def _apply(
        self,
        conn: Connection,
        run_id: str,
        writer_id: int,
        events: list[Event],
        now: float,
        commit: _Commit,
        result: WriteResult,
    ) -> None:
        """A writer's new events: run metadata now, its points as columns for ``_store_points``."""
        self._runs.ensure(conn, run_id, events, now)
        heartbeat = False
        metrics: list[Event] = []
        for event in events:
            kind = event.kind
            if kind in VALUE_KINDS:
                metrics.append(event)
            elif kind == "heartbeat":
                heartbeat = True
            else:
                self._runs.apply(conn, run_id, event, now)
        last_step: int | None = None
        if metrics:
            # consecutive events logging the same keys are one segment (see format/columns.py)
            segments = [
                (kind, keys, list(grouped))
                for (kind, keys), grouped in groupby(metrics, key=lambda e: (e.kind, tuple(e.payload["values"])))
            ]
            ids = self._series_ids(conn, run_id, segments)
            pending: dict[tuple[int, int], Pending] = {}
            summary: dict[int, Summary] = {}
            points = 0
            for _kind, keys, segment in segments:
                top = add_segment(segment, keys, ids.__getitem__, pending, summary)
                points += len(segment) * len(keys)
                if last_step is None or top > last_step:
                    last_step = top
            if points:
                commit.points.append(_WriterPoints(writer_id, pending, summary))
                result.points += points
        run = commit.runs.setdefault(run_id, [False, None])
        run[0] = run[0] or heartbeat
        if last_step is not None and (run[1] is None or last_step > run[1]):
            run[1] = last_step
        result.applied.extend(events)

    def _series_ids(self, conn: Connection, run_id: str, segments: list[tuple[str, Any, Any]]) -> dict[str, int]:
        """The series id of every key the segments log; keys seen for the first time are created at once."""
        known = self._series.setdefault(run_id, {})
        missing: dict[str, str] = {}
        for kind, keys, _events in segments:
            for key in keys:
                if key not in known:
                    missing.setdefault(key, kind)  # the first kind logged names the series, as in SQLite
        if missing:
            keys = list(missing)
            conn.execute(
                "INSERT INTO series (run_id, key, kind) SELECT %s, k, t FROM unnest(%s::text[], %s::text[]) AS u(k, t)"
                " ON CONFLICT (run_id, key) DO NOTHING",
                (run_id, keys, [missing[key] for key in keys]),
            )
            rows = conn.execute(
                "SELECT id, key FROM series WHERE run_id = %s AND key = ANY(%s::text[])", (run_id, keys)
            )
            for sid, key in rows.fetchall():
                known[key] = sid
        return known

    def _store_points(self, conn: Connection, writers: list[_WriterPoints]) -> None:
        """Chunks, rollups and summaries of every writer's points, in arrival order, set-wise."""
        if not writers:
            return
        sids = sorted({sid for points in writers for sid, _bucket in points.pending})
        spans: dict[int, tuple[int | None, int | None]] = {
            sid: (low, high)
            for sid, low, high in conn.execute(
                "SELECT id, low_step, high_step FROM series WHERE id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE",
                (sids,),
            ).fetchall()
        }
        upserts: dict[tuple[int, int, int], list[Any]] = {}
        summary: dict[int, Summary] = {}
        chunks: list[tuple[int, int, int, int, int, bytes]] = []
        for points in writers:
            tops = self._levels(points.pending, spans)
            rows, builds = rollups.plan(points.pending, tops)
            for sid, level, bucket, *agg in rows:
                found = upserts.get((sid, level, bucket))
                if found is None:
                    upserts[(sid, level, bucket)] = agg
                else:
                    rollups.merge(found, agg)
            if builds:  # a level starts being kept: built from the level below, which must hold these points
                self._upsert_rollups(conn, upserts)
                upserts = {}
                for sid, level in builds:
                    self._build_level(conn, sid, level)
            chunks.extend(chunk_rows(points.writer_id, points.pending))
            for sid, agg in points.summary.items():
                merge_summary(summary, sid, agg)
        self._upsert_rollups(conn, upserts)
        conn.execute(_CHUNKS, _columns(chunks, 6))
        self._update_summaries(conn, summary, spans)

    @staticmethod
    def _levels(
        pending: dict[tuple[int, int], Pending], spans: dict[int, tuple[int | None, int | None]]
    ) -> dict[int, tuple[int, int]]:
        """Each series' coarsest kept rollup level before and after these points; ``spans`` grow to include them."""
        batch: dict[int, tuple[int, int]] = {}
        for (sid, _), points in pending.items():
            low, high = min(points.steps), max(points.steps)
            if sid in batch:
                low, high = min(low, batch[sid][0]), max(high, batch[sid][1])
            batch[sid] = (low, high)
        tops: dict[int, tuple[int, int]] = {}
        for sid, (low, high) in batch.items():
            old_low, old_high = spans[sid]
            new = (low, high) if old_low is None or old_high is None else (min(low, old_low), max(high, old_high))
            spans[sid] = new
            tops[sid] = (rollups.top_level(old_low, old_high), rollups.top_level(*new))
        return tops

    @staticmethod
    def _upsert_rollups(conn: Connection, upserts: dict[tuple[int, int, int], list[Any]]) -> None:
        if upserts:
            conn.execute(_ROLLUP_UPSERT, _columns([(*key, *agg) for key, agg in upserts.items()], 10))

    @staticmethod
    def _build_level(conn: Connection, sid: int, level: int) -> None:
        """A series' rows of ``level`` from its rows of the level below (the level starts being kept)."""
        below = conn.execute(
            "SELECT bucket, count, nans, min, max, last_step, last, last_bits FROM rollups"
            " WHERE series = %s AND level = %s ORDER BY bucket",
            (sid, level - 1),
        ).fetchall()
        up = rollups.build_level(below)
        conn.execute("DELETE FROM rollups WHERE series = %s AND level = %s", (sid, level))
        if up:
            conn.execute(_ROLLUP_INSERT, _columns([(sid, level, bucket, *agg) for bucket, agg in up.items()], 10))

    @staticmethod
    def _update_summaries(
        conn: Connection, summary: dict[int, Summary], spans: dict[int, tuple[int | None, int | None]]
    ) -> None:
        """Fold each series' commit summary into its row in one statement (no read first)."""
        rows = []
        for sid, (step, last, low, high, count) in summary.items():
            if low != low:  # only NaNs in this commit
                low = high = None
            value, bits = to_columns(last)
            rows.append((sid, step, value, bits, low, high, count, *spans[sid]))
        conn.execute(_SUMMARIES, _columns(rows, 9))

    def _finish(self, conn: Connection, commit: _Commit, dead: Sequence[DeadLetter], now: float) -> None:
        """The writers' claims, the runs' progress and the dead letters, one statement each."""
        if commit.writers:
            conn.execute(
                "UPDATE writers AS w SET committed = u.committed, extra = u.extra"
                " FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS u(id, committed, extra) WHERE w.id = u.id",
                _columns(commit.writers, 3),
            )
        if commit.runs:
            ids = list(commit.runs)
            conn.execute(
                _RUNS,
                {
                    "now": now,
                    "ids": ids,
                    "heartbeats": [commit.runs[run][0] for run in ids],
                    "steps": [commit.runs[run][1] for run in ids],
                },
            )
        if dead:
            conn.cursor().executemany(
                "INSERT INTO dead_letters (stream, entry_id, reason, run_id, size, raw, received_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (stream, entry_id) DO NOTHING",
                [(d.stream, d.entry_id, d.reason, d.run_id, d.size, d.raw[:_RAW_LIMIT], d.received_at) for d in dead],
            )
