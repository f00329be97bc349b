"""Points in packed chunks: exact values, order, ranges, and SQLite's upgrade from one row per point."""

from __future__ import annotations

import math
import sqlite3
import struct
from importlib import resources
from typing import Any

import pytest

from collector.store.format import chunks
from collector.store.sqlite import SQLiteStore
from emitter.events import Batch, Event, Kind
from tests.stores import chunk_reads, query

pytestmark = pytest.mark.every_backend

NAN_PAYLOAD = struct.unpack("<d", struct.pack("<q", 0x7FF8_0000_DEAD_BEEF))[0]


def bits(value: float) -> int:
    return struct.unpack("<q", struct.pack("<d", value))[0]


def metrics(run: str, writer: str, seq: int, step: int, **values: float) -> Event:
    return Event(run, writer, seq, 1000.0 + seq, Kind.METRICS, {"step": step, "values": values})


def write(store: Any, *events: Event) -> None:
    store.write([Batch(events[0].run_id, events[0].writer, list(events))], [], now=2000.0)


def test_values_keep_their_exact_bits_and_come_back_by_step_then_first_seen_writer_then_seq(store):
    write(store, metrics("r", "w2", 0, 5, x=1.0), metrics("r", "w2", 1, 2, x=NAN_PAYLOAD))
    write(store, metrics("r", "w1", 0, 5, x=-0.0), metrics("r", "w1", 1, 2000, x=math.inf))
    got = [(p.step, bits(p.value)) for p in store.series.points("r")]
    assert got == [(2, bits(NAN_PAYLOAD)), (5, bits(1.0)), (5, bits(-0.0)), (2000, bits(math.inf))]
    assert store.series.count_points("r") == 4


def test_a_range_read_spans_buckets_and_never_splits_one(store, monkeypatch):
    monkeypatch.setattr(chunks, "READ_CHUNKS", 3)  # force several reads over a series of many chunks
    for seq, step in enumerate(range(0, 5000, 7)):  # one commit per point: one chunk each, ~146 per bucket
        write(store, metrics("r", "w", seq, step, x=float(step)))
    sid = query(store, "SELECT id FROM series WHERE run_id = 'r'")[0][0]
    read, sql = chunk_reads(store)
    got = [step for step, _ts, _value in chunks.points(read, sql, sid, 1000, 4100)]
    assert got == list(range(1001, 4101, 7))
    assert chunks.count_between(read, sql, sid, 1000, 4100) == len(got)
    assert chunks.step_bounds(read, sql, sid) == (0, 4998)
    assert [p.step for p in store.series.points("r")] == list(range(0, 5000, 7))


def test_a_database_of_one_row_per_point_is_converted_losing_nothing(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version, name in enumerate(
        ("sqlite_0001_initial.sql", "sqlite_0002_rollups_tokens.sql", "sqlite_0003_alerts.sql"), start=1
    ):
        sql = resources.files("collector.store.sqlite.migrations").joinpath(name).read_text()
        for statement in sql.split(";\n"):
            if statement.strip():
                db.execute(statement)
        db.execute("INSERT INTO schema_version VALUES (?)", (version,))
    db.execute(
        "INSERT INTO runs (id, project, name, status, created_at, updated_at) VALUES ('r', 'p', 'n', 'running', 0, 0)"
    )
    db.execute("INSERT INTO series (id, run_id, key, kind) VALUES (1, 'r', 'loss', 'metrics')")
    rows = [  # (step, writer, seq, ts, value, bits) as version 3 stored them
        (3, 1, 0, 10.0, 0.5, None),
        (1, 1, 1, 11.0, None, bits(NAN_PAYLOAD)),
        (1, 2, 0, 12.0, 0.0, bits(-0.0)),
        (4000, 1, 2, 13.0, math.inf, None),
    ]
    db.executemany(
        "INSERT INTO points (series, step, writer_id, seq, ts, value, bits) VALUES (1, ?, ?, ?, ?, ?, ?)", rows
    )
    db.close()

    store = SQLiteStore(path)
    assert store.schema_version >= 4
    got = [(p.step, p.ts, bits(p.value)) for p in store.series.points("r")]
    assert got == [
        (1, 11.0, bits(NAN_PAYLOAD)),
        (1, 12.0, bits(-0.0)),
        (3, 10.0, bits(0.5)),
        (4000, 13.0, bits(math.inf)),
    ]
    assert not store.db.read("SELECT name FROM sqlite_master WHERE name = 'points'"), "the old table is gone"
    store.close()


def test_summaries_and_rollups_keep_nan_payloads_and_negative_zero_exactly(store):
    """Where a value is a column (a summary's last, a rollup bucket's last), its bits still come back as logged."""
    from collector.store.format.exact import from_columns

    write(
        store, metrics("r", "w", 0, 1, x=1.0), metrics("r", "w", 1, 2, x=NAN_PAYLOAD), metrics("r", "w", 2, 3, y=-0.0)
    )
    summary = store.runs.get("r").metrics
    assert bits(summary["x"].last) == bits(NAN_PAYLOAD)
    assert bits(summary["y"].last) == bits(-0.0)
    for key, expected in (("x", NAN_PAYLOAD), ("y", -0.0)):
        rows = query(
            store,
            "SELECT r.last, r.last_bits FROM rollups r JOIN series s ON s.id = r.series WHERE s.key = ? AND r.level = 1",
            (key,),
        )
        assert [bits(from_columns(last, last_bits)) for last, last_bits in rows] == [bits(expected)]
    assert store.runs.detail("r")["metrics"]["y"]["last"] == 0.0 and math.copysign(1, summary["y"].last) == -1


def test_events_logging_different_key_sets_keep_every_series_and_its_summary_exact(store):
    """Consecutive events with the same keys are stored as one segment; changing keys starts another."""
    logged = [
        (0, {"a": 1.0, "b": math.nan}),
        (1, {"a": 3.0, "b": 2.0}),
        (2000, {"a": -1.0}),  # another bucket and another key set
        (1, {"b": -0.0, "a": 7.0}),  # same keys, other order, an earlier step
        (3, {"c": math.inf}),
    ]
    events = [metrics("r", "w", seq, step, **values) for seq, (step, values) in enumerate(logged)]
    write(store, *events)
    stored: dict[str, list[tuple[int, int]]] = {}
    for point in store.series.points("r"):
        stored.setdefault(point.key, []).append((point.step, bits(point.value)))
    expected: dict[str, list[tuple[int, int]]] = {}
    for step, values in sorted(logged, key=lambda item: item[0]):  # stable: arrival order on equal steps
        for key, value in values.items():
            expected.setdefault(key, []).append((step, bits(value)))
    assert stored == expected
    record = store.runs.get("r")
    assert record is not None
    summary = record.metrics
    assert (summary["a"].last_step, summary["a"].last, summary["a"].min, summary["a"].max, summary["a"].count) == (
        2000,
        -1.0,
        -1.0,
        7.0,
        4,
    )
    assert (
        summary["b"].last_step,
        bits(summary["b"].last),
        summary["b"].min,
        summary["b"].max,
        summary["b"].count,
    ) == (1, bits(-0.0), -0.0, 2.0, 3)
    assert summary["c"].last == math.inf and summary["c"].count == 1


def test_a_claim_refuses_a_seq_jump_past_the_gap_and_accepts_one_up_to_it() -> None:
    from collector.store.base import EntryRejected
    from collector.store.format.claims import claim
    from emitter.events import MAX_SEQ_GAP, Event

    def event(seq: int) -> Event:
        return Event("r", "w", seq, 1.0, "heartbeat", {})

    fresh, committed, extra = claim([event(10 + MAX_SEQ_GAP)], 10, [])
    assert [e.seq for e in fresh] == [10 + MAX_SEQ_GAP] and committed == 10 and extra == [[10 + MAX_SEQ_GAP] * 2]
    with pytest.raises(EntryRejected, match="jumps more than"):
        claim([event(11 + MAX_SEQ_GAP)], 10, [])
    assert claim([event(30 + MAX_SEQ_GAP)], 10, [[25, 30]])[1] == 10  # measured from the highest committed range
