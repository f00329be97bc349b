"""The PostgreSQL write path: idempotency claims, metric points, summaries, rollups, dead letters.

The same steps as SQLite's ingest, shaped for a server a round trip away. A commit runs
in one transaction in pipeline mode, and asks the server for an answer only where it
needs one: the writers of the commit (one query, locked ``FOR UPDATE``), a run or a
series seen for the first time, and the step span of the series it touches (one query,
locked, so the rollup levels kept are decided on the true span even when another
collector wrote the series). Rows are locked in one order — writers (new ones
included), runs, series, rollup buckets, each sorted — so two collectors committing
the same runs at once wait for each other instead of deadlocking. Everything else — chunks, rollups, summaries, writers,
runs — is one set-based statement per table per commit over ``unnest``ed arrays (sent in
binary: no text escaping of thousands of numbers), not a statement per point or per series. Two writers of one series in one commit fold into one
row per rollup bucket and one summary update, later arrivals winning ties as they would
applied one after the other.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

import psycopg

from emitter.events import VALUE_KINDS, Batch, Event, Kind

from ..base import DeadLetter, WriteHook, WriteResult
from ..format import rollups
from ..format.chunks import Pending, chunk_rows
from ..format.claims import by_writer, check_key_limit, claim
from ..format.columns import Summary, add_segment, merge_summary
from ..format.exact import to_columns
from .database import Connection, Database
from .run_events import RunEvents

logger = logging.getLogger(__name__)

_RAW_LIMIT = 64 << 10  # bytes of a dead entry kept for inspection

_LOCK_RUNS = "SELECT id FROM runs WHERE id = ANY(%b::text[]) ORDER BY id FOR UPDATE"
_WRITERS = (
    "SELECT w.run_id, w.writer, w.id, w.committed, w.extra FROM writers w"
    " JOIN unnest(%s::text[], %s::text[]) AS k (run_id, writer) ON w.run_id = k.run_id AND w.writer = k.writer"
    " ORDER BY w.run_id, w.writer FOR UPDATE OF w"
)
_CHUNKS = (
    "INSERT INTO point_chunks (series, bucket, writer_id, first_seq, n, data)"
    " SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[], %b::int[], %b::bytea[])"
)
_ROLLUP_COLUMNS = "series, level, bucket, count, nans, min, max, last_step, last, last_bits"
_ROLLUP_ARRAYS = (
    "unnest(%b::bigint[], %b::smallint[], %b::bigint[], %b::bigint[], %b::bigint[], %b::float8[], %b::float8[],"
    " %b::bigint[], %b::float8[], %b::bigint[])"
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
    " FROM unnest(%b::bigint[], %b::bigint[], %b::float8[], %b::bigint[], %b::float8[], %b::float8[], %b::bigint[],"
    " %b::bigint[], %b::bigint[]) AS u(id, step, last, bits, low, high, n, low_step, high_step)"
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
    " FROM unnest(%(ids)b::text[], %(heartbeats)b::bool[], %(steps)b::bigint[]) AS u(id, heartbeat, step)"
    " WHERE runs.id = u.id"
)


@dataclass(slots=True)
class _WriterPoints:
    """One writer's metric events in this commit: segments of one kind and key set, then their columns."""

    run_id: str
    writer_id: int
    segments: list[tuple[str, tuple[str, ...], list[Event]]]
    pending: dict[tuple[int, int], Pending] = field(default_factory=dict)
    summary: dict[int, Summary] = field(default_factory=dict)


@dataclass(slots=True)
class _Commit:
    """Everything one commit writes set-wise at its end."""

    writers: list[tuple[int, int, str]] = field(default_factory=list)  # id, committed, extra
    runs: dict[str, list[Any]] = field(default_factory=dict)  # run -> [heartbeat, highest step]
    points: list[_WriterPoints] = field(default_factory=list)


def _connection_lost(exc: psycopg.OperationalError) -> bool:
    """Whether the error is the connection dying (class 08, or the server shutting down), not a refused statement."""
    state = exc.sqlstate
    return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")


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
        """Apply batches and dead letters in one transaction; redeliveries change nothing.

        A commit that met a dead connection (the server restarted since it was pooled) runs
        once more on a fresh one: writes are idempotent, so even a commit whose acknowledgement
        was lost is safe to repeat, and a database restart costs no entry a failed attempt.
        """
        with self._lock:
            try:
                result = self._commit(batches, dead, now)
            except psycopg.OperationalError as exc:
                if not _connection_lost(exc):
                    raise
                logger.warning("lost the database connection (%s); committing again on a new one", exc)
                self._db.discard_dead()
                result = self._commit(batches, dead, now)
        for hook in self._hooks:
            hook.after_commit()
        return result

    def _commit(self, batches: Sequence[Batch], dead: Sequence[DeadLetter], now: float) -> WriteResult:
        """The transaction of ``write``; on any failure the caches are dropped and the hooks hear of the rollback."""
        result = WriteResult()
        try:
            with self._db.transaction() as conn, conn.pipeline():
                commit = _Commit()
                merged = by_writer(batches)
                writers = self._writers(conn, merged, now) if merged else {}
                if merged:  # rows locked in one order (writers, runs, series, rollups, each sorted): no deadlock
                    conn.execute(_LOCK_RUNS, (sorted({batch.run_id for batch in merged}),))
                for batch in merged:
                    writer_id, committed, extra = writers[(batch.run_id, batch.writer)]
                    fresh, committed, extra = claim(batch.events, committed, extra)
                    result.duplicates += len(batch.events) - len(fresh)
                    result.watermarks[(batch.run_id, batch.writer)] = committed
                    if fresh:
                        commit.writers.append((writer_id, committed, json.dumps(extra)))
                        self._apply(conn, batch.run_id, writer_id, fresh, now, commit, result)
                self._columns_of(conn, commit, result)
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

    def watermark(self, run_id: str, writer: str) -> int:
        rows = self._db.read("SELECT committed FROM writers WHERE run_id = %s AND writer = %s", (run_id, writer))
        return int(rows[0][0]) if rows else -1

    # ------------------------------------------------------------------ steps of a commit

    def _writers(
        self, conn: Connection, batches: list[Batch], now: float
    ) -> dict[tuple[str, str], tuple[int, int, list[Any]]]:
        """Each (run, writer)'s ``(id, committed, extra)``, locked; one seen for the first time is created."""
        keys = sorted({(batch.run_id, batch.writer) for batch in batches})
        found = {
            (r, w): (i, c, json.loads(e))
            for r, w, i, c, e in conn.execute(_WRITERS, ([k[0] for k in keys], [k[1] for k in keys])).fetchall()
        }
        new = [batch for batch in batches if (batch.run_id, batch.writer) not in found]
        if new:
            rows = []
            for batch in new:
                env: dict[str, Any] = next(
                    (e.payload.get("env", {}) for e in batch.events if e.kind == Kind.RUN_START), {}
                )
                rows.append((batch.writer, batch.run_id, now, json.dumps(env, default=str)))
            conn.cursor().executemany(
                "INSERT INTO writers (writer, run_id, committed, extra, started_at, env)"
                " VALUES (%s, %s, -1, '[]', %s, %s) ON CONFLICT (run_id, writer) DO NOTHING",
                rows,
            )
            again = conn.execute(_WRITERS, ([b.run_id for b in new], [b.writer for b in new])).fetchall()
            found.update({(r, w): (i, c, json.loads(e)) for r, w, i, c, e in again})
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
        if metrics:
            # consecutive events logging the same keys are one segment (see format/columns.py)
            segments = [
                (kind, keys, list(grouped))
                for (kind, keys), grouped in groupby(metrics, key=lambda e: (e.kind, tuple(e.payload["values"])))
            ]
            commit.points.append(_WriterPoints(run_id, writer_id, segments))
        run = commit.runs.setdefault(run_id, [False, None])
        run[0] = run[0] or heartbeat
        result.applied.extend(events)

    def _columns_of(self, conn: Connection, commit: _Commit, result: WriteResult) -> None:
        """Each writer's segments as per-series columns and summaries; every run's highest step."""
        ids = self._series_ids(conn, commit.points)
        for points in commit.points:
            run = commit.runs[points.run_id]
            series = ids[points.run_id]
            for _kind, keys, segment in points.segments:
                top = add_segment(segment, keys, series.__getitem__, points.pending, points.summary)
                result.points += len(segment) * len(keys)
                if run[1] is None or top > run[1]:
                    run[1] = top

    def _series_ids(self, conn: Connection, writers: list[_WriterPoints]) -> dict[str, dict[str, int]]:
        """run → key → series id for every key the commit logs; keys seen for the first time are created at once."""
        missing: dict[tuple[str, str], str] = {}
        for points in writers:
            known = self._series.setdefault(points.run_id, {})
            for kind, keys, _events in points.segments:
                for key in keys:
                    if key not in known:
                        missing.setdefault((points.run_id, key), kind)  # the first kind logged names the series
        if missing:
            self._check_key_limits(conn, missing)
            new_runs, new_keys = [run for run, _ in missing], [key for _, key in missing]
            conn.execute(
                "INSERT INTO series (run_id, key, kind) SELECT * FROM unnest(%b::text[], %b::text[], %b::text[])"
                " ON CONFLICT (run_id, key) DO NOTHING",
                (new_runs, new_keys, list(missing.values())),
            )
            rows = conn.execute(
                "SELECT s.id, s.run_id, s.key FROM series s JOIN unnest(%b::text[], %b::text[]) AS u(run_id, key)"
                " ON s.run_id = u.run_id AND s.key = u.key",
                (new_runs, new_keys),
            ).fetchall()
            for sid, run_id, key in rows:
                self._series[run_id][key] = sid
        return self._series

    def _check_key_limits(self, conn: Connection, missing: dict[tuple[str, str], str]) -> None:
        """A run may not pass the contract's key limit (see ``format.claims.check_key_limit``)."""
        new_per_run: dict[str, list[str]] = {}
        for run_id, key in missing:
            new_per_run.setdefault(run_id, []).append(key)
        counts = dict(
            conn.execute(
                "SELECT run_id, count(*) FROM series WHERE run_id = ANY(%s::text[]) GROUP BY run_id",
                (sorted(new_per_run),),
            ).fetchall()
        )
        for run_id, keys in new_per_run.items():
            stored = int(counts.get(run_id, 0))
            for offset, key in enumerate(keys):
                check_key_limit(run_id, key, stored + offset)

    def _store_points(self, conn: Connection, writers: list[_WriterPoints]) -> None:
        """Chunks, rollups and summaries of every writer's points, in arrival order, set-wise.

        Every level kept before a writer's points gets its rows folded into one upsert per
        commit; a level that starts being kept is built afterwards from the level below
        (which then holds every point of the commit), lowest levels first, for all series at once.
        """
        if not writers:
            return
        sids = sorted({sid for points in writers for sid, _bucket in points.pending})
        spans: dict[int, tuple[int | None, int | None]] = {
            sid: (low, high)
            for sid, low, high in conn.execute(
                "SELECT id, low_step, high_step FROM series WHERE id = ANY(%b::bigint[]) ORDER BY id FOR UPDATE",
                (sids,),
            ).fetchall()
        }
        upserts: dict[tuple[int, int, int], list[Any]] = {}
        builds: dict[int, set[int]] = {}  # level -> series that start keeping it
        summary: dict[int, Summary] = {}
        chunks: list[tuple[int, int, int, int, int, bytes]] = []
        for points in writers:
            rows, started = rollups.plan(points.pending, self._levels(points.pending, spans))
            for sid, level, bucket, *agg in rows:
                found = upserts.get((sid, level, bucket))
                if found is None:
                    upserts[(sid, level, bucket)] = agg
                else:
                    rollups.merge(found, agg)
            for sid, level in started:
                builds.setdefault(level, set()).add(sid)
            chunks.extend(chunk_rows(points.writer_id, points.pending))
            for sid, agg in points.summary.items():
                merge_summary(summary, sid, agg)
        if upserts:  # in key order: two collectors upserting the same buckets take their locks in one order
            conn.execute(_ROLLUP_UPSERT, _columns([(*key, *upserts[key]) for key in sorted(upserts)], 10))
        for level in sorted(builds):
            self._build_level(conn, sorted(builds[level]), level)
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
    def _build_level(conn: Connection, sids: list[int], level: int) -> None:
        """The rows of ``level`` of these series from their rows of the level below (the level starts being kept)."""
        below: dict[int, list[Any]] = {sid: [] for sid in sids}
        for sid, *row in conn.execute(
            "SELECT series, bucket, count, nans, min, max, last_step, last, last_bits FROM rollups"
            " WHERE series = ANY(%b::bigint[]) AND level = %s ORDER BY series, bucket",
            (sids, level - 1),
        ).fetchall():
            below[sid].append(row)
        rows = [(sid, level, bucket, *agg) for sid in sids for bucket, agg in rollups.build_level(below[sid]).items()]
        # rows an upsert of this commit may have put there: the level is rebuilt whole, from the level below
        conn.execute("DELETE FROM rollups WHERE series = ANY(%b::bigint[]) AND level = %s", (sids, level))
        if rows:
            conn.execute(_ROLLUP_INSERT, _columns(rows, 10))

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
                " FROM unnest(%b::bigint[], %b::bigint[], %b::text[]) AS u(id, committed, extra) WHERE w.id = u.id",
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
