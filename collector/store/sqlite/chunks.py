"""Points stored as packed chunks: one row per (series, step bucket, writer, commit).

A row per point costs SQLite a B-tree insert per point (about 5 µs on a 2-core
machine: the ingest ceiling). A chunk row holds every point one commit brings to one
series inside one bucket of ``2**SHIFT`` steps, packed as four little-endian arrays
(steps, seqs as int64; timestamps, values as float64), so a commit of 10,000 points
over 10 keys writes a handful of rows. The float64 values keep their exact bit
patterns (NaN payloads, -0.0) without a side column.

Buckets partition the steps, so a step range maps to a contiguous primary-key range
and a bucket's points are complete once its chunks are read: reads sort by
``(step, writer, seq)`` one bucket at a time. Idempotency is not the table's job: the
store claims ``(writer, seq)`` before a point reaches a chunk.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any

SHIFT = 10  # 1024 steps per bucket
READ_CHUNKS = 512  # chunk rows per read, so a long series is read in slices (the lock is released between)

Read = Callable[[str, Sequence[Any]], list[Any]]

_INSERT = "INSERT INTO point_chunks (series, bucket, writer_id, first_seq, n, data) VALUES (?, ?, ?, ?, ?, ?)"
_LITTLE = sys.byteorder == "little"


class Pending:
    """The points of one (series, bucket) collected while a batch is applied."""

    __slots__ = ("steps", "seqs", "ts", "values")

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.seqs: list[int] = []
        self.ts: list[float] = []
        self.values: list[float] = []

    def add(self, step: int, seq: int, ts: float, value: float) -> None:
        self.steps.append(step)
        self.seqs.append(seq)
        self.ts.append(ts)
        self.values.append(value)


def pack(steps: Sequence[int], seqs: Sequence[int], ts: Sequence[float], values: Sequence[float]) -> bytes:
    parts: list[array[int] | array[float]] = [array("q", steps), array("q", seqs), array("d", ts), array("d", values)]
    if not _LITTLE:
        for part in parts:
            part.byteswap()
    return b"".join(part.tobytes() for part in parts)


def unpack(data: bytes, n: int) -> tuple[array[int], array[int], array[float], array[float]]:
    parts: list[Any] = []
    for i, code in enumerate("qqdd"):
        part = array(code)
        part.frombytes(data[i * 8 * n : (i + 1) * 8 * n])
        if not _LITTLE:
            part.byteswap()
        parts.append(part)
    return parts[0], parts[1], parts[2], parts[3]


def insert(db: Any, writer_id: int, pending: dict[tuple[int, int], Pending]) -> None:
    """Write one chunk row per (series, bucket) of the batch just applied."""
    db.executemany(
        _INSERT,
        [
            (sid, bucket, writer_id, min(p.seqs), len(p.steps), pack(p.steps, p.seqs, p.ts, p.values))
            for (sid, bucket), p in pending.items()
        ],
    )


def bucket_of(step: int) -> int:
    return step >> SHIFT


def _sorted_points(rows: Sequence[Any], lo: int, hi: int) -> list[tuple[int, int, int, float, float]]:
    """``(step, writer, seq, ts, value)`` of the chunk rows' points in [lo, hi], in order."""
    out: list[tuple[int, int, int, float, float]] = []
    for _bucket, writer, n, data in rows:
        steps, seqs, ts, values = unpack(data, n)
        out.extend(
            (step, writer, seq, t, v)
            for step, seq, t, v in zip(steps, seqs, ts, values, strict=True)
            if lo <= step <= hi
        )
    out.sort(key=lambda p: (p[0], p[1], p[2]))
    return out


def points(read: Read, sid: int, lo: int, hi: int) -> Iterator[tuple[int, float, float]]:
    """``(step, ts, value)`` of every point with lo <= step <= hi, by step (then writer, seq).

    Reads a few hundred chunk rows at a time and never splits a bucket between reads.
    """
    start, end = bucket_of(lo), bucket_of(hi)
    while start <= end:
        rows = read(
            "SELECT bucket, writer_id, n, data FROM point_chunks WHERE series = ? AND bucket BETWEEN ? AND ?"
            " ORDER BY bucket LIMIT ?",
            (sid, start, end, READ_CHUNKS),
        )
        if not rows:
            return
        if len(rows) == READ_CHUNKS:
            last = rows[-1][0]
            complete = [row for row in rows if row[0] < last]
            if not complete:  # one bucket holds more chunks than a read: take that bucket whole
                complete = read(
                    "SELECT bucket, writer_id, n, data FROM point_chunks WHERE series = ? AND bucket = ?",
                    (sid, last),
                )
                last += 1
            rows, start = complete, last
        else:
            start = end + 1
        for step, _writer, _seq, ts, value in _sorted_points(rows, lo, hi):
            yield step, ts, value


def step_bounds(read: Read, sid: int) -> tuple[int | None, int | None]:
    """The lowest and the highest step of a series (None, None when it has no points)."""
    edge = read("SELECT min(bucket), max(bucket) FROM point_chunks WHERE series = ?", (sid,))[0]
    if edge[0] is None:
        return None, None
    low = min(min(unpack(d, n)[0]) for n, d in _bucket_rows(read, sid, edge[0]))
    high = max(max(unpack(d, n)[0]) for n, d in _bucket_rows(read, sid, edge[1]))
    return int(low), int(high)


def _bucket_rows(read: Read, sid: int, bucket: int) -> list[Any]:
    return read("SELECT n, data FROM point_chunks WHERE series = ? AND bucket = ?", (sid, bucket))


def count_between(read: Read, sid: int, lo: int, hi: int) -> int:
    """How many points of a series have lo <= step <= hi (edge buckets are unpacked)."""
    first, last = bucket_of(lo), bucket_of(hi)
    inner = read(
        "SELECT coalesce(sum(n), 0) FROM point_chunks WHERE series = ? AND bucket > ? AND bucket < ?",
        (sid, first, last),
    )[0][0]
    edges = 0
    for bucket in {first, last}:
        for n, data in _bucket_rows(read, sid, bucket):
            edges += sum(1 for step in unpack(data, n)[0] if lo <= step <= hi)
    return int(inner) + edges
