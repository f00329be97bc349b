"""Sent but unconfirmed entries: bounded in memory, spooled past the budget, dropped once committed."""

from __future__ import annotations

from pathlib import Path

import fakeredis

from emitter._spool import Spool
from emitter._unconfirmed import SentEntry, Unconfirmed, committed_seqs
from emitter.events import Keys, shard_for


def _entry(writer: str, first: int, last: int, size: int = 100) -> SentEntry:
    return SentEntry("run-1", writer, first, last, bytes([first % 256]) * size)


def test_past_the_byte_budget_the_oldest_bodies_move_to_the_spool_and_stay_readable(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    pending = Unconfirmed(spool, max_bytes=250)
    entries = [_entry("w", seq, seq) for seq in range(3)]
    for entry in entries:
        pending.add(entry)
    assert pending.over_budget()
    assert pending.move_oldest_to_spool()
    assert not pending.over_budget()
    assert entries[0].body is None and entries[0].segment is not None
    assert entries[1].body is not None and entries[2].body is not None
    assert entries[0].load() == bytes([0]) * 100  # read back from disk, for a re-send after reconnect
    assert [(s.writer, s.first_seq) for s in spool.segments()] == [("w", 0)]
    assert len(pending) == 3  # spooled is still unconfirmed


def test_moving_to_the_spool_with_nothing_in_memory_says_so(tmp_path: Path) -> None:
    pending = Unconfirmed(Spool(tmp_path), max_bytes=0)
    assert not pending.move_oldest_to_spool()
    pending.add(_entry("w", 0, 0))
    assert pending.move_oldest_to_spool()
    assert not pending.move_oldest_to_spool()
    assert not pending.over_budget()


def test_confirming_drops_what_each_writers_watermark_covers_and_deletes_its_spooled_copy(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    pending = Unconfirmed(spool, max_bytes=1 << 20)
    for entry in [_entry("a", 0, 9), _entry("a", 10, 19), _entry("b", 0, 4), _entry("c", 0, 0)]:
        pending.add(entry)
    pending.move_oldest_to_spool()  # a:0-9 now lives on disk
    assert pending.writers() == [("run-1", "a"), ("run-1", "b"), ("run-1", "c")]
    pending.confirm(
        {("run-1", "a"): 9, ("run-1", "b"): 3, ("run-1", "c"): -1, ("run-2", "c"): 0}
    )  # run-2's c is not ours
    assert [(e.writer, e.first_seq) for e in pending] == [("a", 10), ("b", 0), ("c", 0)]
    assert spool.segments() == []  # the confirmed spooled copy is gone
    pending.confirm({("run-1", "a"): 19, ("run-1", "b"): 4})  # a writer without a watermark keeps everything
    assert [(e.writer, e.first_seq) for e in pending] == [("c", 0)]


def test_at_close_every_body_still_in_memory_goes_to_the_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    pending = Unconfirmed(spool, max_bytes=150)
    for seq in range(3):
        pending.add(_entry("w", seq, seq))
        while pending.over_budget():
            pending.move_oldest_to_spool()
    pending.move_all_to_spool()
    assert all(entry.body is None for entry in pending)
    assert [s.first_seq for s in spool.segments()] == [0, 1, 2]
    assert [segment.read() for segment in spool.segments()] == [("run-1", bytes([seq]) * 100) for seq in range(3)]


def test_clear_forgets_without_spooling(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    pending = Unconfirmed(spool, max_bytes=150)
    pending.add(_entry("w", 0, 0))
    pending.add(_entry("w", 1, 1))
    pending.clear()
    assert len(pending) == 0 and not pending.over_budget()
    assert spool.segments() == []


def test_committed_seqs_reads_each_run_and_writers_watermark_and_minus_one_for_none() -> None:
    client = fakeredis.FakeRedis()
    keys = Keys("rwtest")
    shards = 4
    client.set(keys.committed(shard_for("r1", shards), "r1", "a"), 41)
    client.set(keys.committed(shard_for("r1", shards), "r1", "c"), 0)
    client.set(keys.committed(shard_for("r2", shards), "r2", "b"), 7)  # another run's writer b: not r1's
    pairs = [("r1", "a"), ("r1", "b"), ("r1", "c"), ("r2", "b")]
    assert committed_seqs(client, keys, shards, pairs) == {
        ("r1", "a"): 41,
        ("r1", "b"): -1,
        ("r1", "c"): 0,
        ("r2", "b"): 7,
    }
