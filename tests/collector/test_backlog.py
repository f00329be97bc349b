"""The commit backlog: which decoded entries the next commit takes, and in what order.

Quiet writers go first and commit apart from busy ones, so a NaN from a quiet run is never
stuck behind thousands of another run's points; a writer's entries stay whole and in order.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from collector.backlog import Backlog, Decoded, Entry
from collector.store.base import DeadLetter
from emitter.events import Batch, Event

STREAM = "runwatch:{0}:events"
_entry_ids = itertools.count(1)

Taken = list[tuple[Entry, Batch]]


def entry(writer: str, seq: int, points: int, *, value: float = 0.5) -> tuple[Entry, Batch]:
    """One stream entry of ``writer``: a single metrics event carrying ``points`` values."""
    values = {f"m{i}": value for i in range(points)}
    event = Event(f"run-{writer}", writer, seq, 0.0, "metrics", {"step": seq, "values": values})
    return (STREAM, f"{next(_entry_ids)}-0", {}), Batch(f"run-{writer}", writer, [event])


def entries(writer: str, *sizes: int, first_seq: int = 0) -> list[tuple[Entry, Batch]]:
    return [entry(writer, first_seq + i, size) for i, size in enumerate(sizes)]


def letter(reason: str = "unsupported contract version 9") -> tuple[Entry, DeadLetter]:
    entry_id = f"{next(_entry_ids)}-0"
    return (STREAM, entry_id, {b"v": b"9"}), DeadLetter(STREAM, entry_id, reason, size=6, received_at=50.0)


def read(*batches: tuple[Entry, Batch], dead: list[tuple[Entry, DeadLetter]] | None = None) -> Decoded:
    """What one XREADGROUP round decoded."""
    return Decoded(now=100.0, batches=list(batches), dead=list(dead or []))


def taken(chunk: Taken) -> list[tuple[str, int]]:
    """(writer, seq) of each entry in a chunk, in chunk order."""
    return [(batch.writer, batch.first_seq) for _, batch in chunk]


def points(chunk: Taken) -> int:
    return sum(len(event.payload["values"]) for _, batch in chunk for event in batch.events)


def drain(backlog: Backlog, limit: int) -> list[Taken]:
    chunks: list[Taken] = []
    for _ in range(1000):
        if not backlog:
            return chunks
        chunk, _ = backlog.take(limit)
        chunks.append(chunk)
    pytest.fail(f"{backlog!r} still not empty after 1000 takes")


# ------------------------------------------------------------------ quiet first


def test_a_quiet_writers_nan_read_after_a_busy_backlog_commits_first_and_alone() -> None:
    backlog = Backlog()
    backlog.add(read(*entries("busy", *[1000] * 20)))  # 20,000 points waiting
    backlog.add(read(entry("quiet", 7, 1, value=math.nan)))  # read later

    chunk, dead = backlog.take(5000)

    assert taken(chunk) == [("quiet", 7)] and dead == []
    assert math.isnan(chunk[0][1].events[0].payload["values"]["m0"])
    assert taken(backlog.take(5000)[0]) == [("busy", seq) for seq in range(5)]


def test_quiet_writers_share_a_chunk_that_no_busy_writer_joins_even_with_room_left() -> None:
    backlog = Backlog()  # limit 800: a writer with more than 100 points waiting is busy
    backlog.add(read(entry("busy", 0, 500), entry("q1", 0, 1), *entries("q2", 5, 5), entry("q3", 0, 40)))

    quiet, _ = backlog.take(800)
    busy, _ = backlog.take(800)

    assert taken(quiet) == [("q1", 0), ("q2", 0), ("q2", 1), ("q3", 0)]  # fewest waiting first; 51 points
    assert taken(busy) == [("busy", 0)]


def test_once_a_chunk_is_past_the_quiet_size_the_next_writers_fill_it_up_to_the_limit() -> None:
    backlog = Backlog()  # limit 800: quiet up to 100
    backlog.add(read(entry("b", 0, 300), entry("a", 0, 150), entry("c", 0, 400)))

    chunk, _ = backlog.take(800)

    assert taken(chunk) == [("a", 0), ("b", 0)]  # 450; c's 400 would pass the limit
    assert taken(backlog.take(800)[0]) == [("c", 0)]


# ------------------------------------------------------------------ whole entries, in order, bounded


def test_a_writers_entries_come_out_whole_and_in_arrival_order_across_reads_and_takes() -> None:
    backlog = Backlog()
    backlog.add(read(*entries("busy", *[700] * 10)))
    backlog.add(read(*entries("busy", *[700] * 10, first_seq=10)))

    chunks = drain(backlog, limit=5000)

    assert [seq for chunk in chunks for _, seq in taken(chunk)] == list(range(20))
    assert [points(chunk) for chunk in chunks] == [4900, 4900, 4200]  # an eighth entry would pass 5000


def test_a_chunk_never_skips_an_entry_that_does_not_fit_to_take_a_later_one() -> None:
    backlog = Backlog()
    backlog.add(read(*entries("w", 400, 400, 400, 100)))

    assert [taken(chunk) for chunk in drain(backlog, limit=1000)] == [
        [("w", 0), ("w", 1)],
        [("w", 2), ("w", 3)],
    ]


def test_when_a_writers_next_entry_does_not_fit_no_busier_writer_gets_ahead_of_it() -> None:
    backlog = Backlog()
    backlog.add(read(*entries("a", 400, 400, 400), *entries("b", *[10] * 130)))  # a: 1200 waiting, b: 1300

    chunks = [taken(chunk) for chunk in drain(backlog, limit=1000)]

    assert chunks[0] == [("a", 0), ("a", 1)]  # the chunk ends: b's small entries do not fill it
    assert chunks[1][0] == ("a", 2)


def test_an_entry_larger_than_the_limit_is_taken_alone() -> None:
    backlog = Backlog()
    backlog.add(read(entry("big", 0, 3000), *entries("next", *[10] * 500)))

    first, _ = backlog.take(1000)
    second, _ = backlog.take(1000)

    assert taken(first) == [("big", 0)]
    assert taken(second) == [("next", seq) for seq in range(100)]


# ------------------------------------------------------------------ dead letters


def test_dead_letters_are_all_returned_with_the_next_take_and_only_once() -> None:
    first, second = letter(), letter("entry payload is gone (trimmed)")
    backlog = Backlog()
    backlog.add(read(*entries("busy", *[1000] * 10), dead=[first]))
    backlog.add(read(dead=[second]))

    _, dead = backlog.take(5000)
    _, again = backlog.take(5000)

    assert dead == [first, second]
    assert again == []


def test_a_backlog_of_dead_letters_alone_is_not_empty_and_one_take_clears_it() -> None:
    dead_letter = letter()
    backlog = Backlog()
    backlog.add(read(dead=[dead_letter]))

    assert backlog
    assert backlog.take(1000) == ([], [dead_letter])
    assert not backlog


# ------------------------------------------------------------------ accounting


def test_points_count_what_waits_and_an_empty_backlog_is_false() -> None:
    backlog = Backlog()
    assert not backlog and backlog.points == 0

    backlog.add(read(*entries("w", 400, 400, 400)))
    assert backlog and backlog.points == 1200
    backlog.take(1000)
    assert backlog and backlog.points == 400
    backlog.take(1000)
    assert not backlog and backlog.points == 0


def test_a_point_is_a_row_one_per_metric_or_system_value_one_per_other_event() -> None:
    def event(seq: int, kind: str, payload: dict[str, Any]) -> Event:
        return Event("run-w", "w", seq, 0.0, kind, payload)

    batch = Batch(
        "run-w",
        "w",
        [
            event(0, "metrics", {"step": 0, "values": {"loss": 0.3, "acc": 0.9, "lr": 1e-3}}),
            event(1, "system", {"step": 0, "values": {"cpu": 50.0, "rss": 1e9}}),
            event(2, "status", {"status": "running"}),
            event(3, "heartbeat", {}),
        ],
    )
    backlog = Backlog()
    backlog.add(read(((STREAM, "1-0", {}), batch)))

    assert backlog.points == 7


def test_points_per_entry_is_a_moving_average_of_what_reads_bring() -> None:
    backlog = Backlog()
    assert backlog.points_per_entry == 1.0

    backlog.add(read(*entries("w", *[101] * 4)))
    assert backlog.points_per_entry == pytest.approx(0.7 * 1.0 + 0.3 * 101)  # 31
    backlog.add(read(entry("w", 4, 1)))
    assert backlog.points_per_entry == pytest.approx(0.7 * 31 + 0.3 * 1)  # 22
    backlog.add(read(dead=[letter()]))
    assert backlog.points_per_entry == pytest.approx(22.0)  # a read of dead letters only says nothing
