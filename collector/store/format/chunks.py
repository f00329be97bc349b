"""Points stored as packed chunks: one row per (series, step bucket, writer, commit).

A row per point costs a B-tree insert per point (about 5 µs for SQLite on a 2-core
machine: the ingest ceiling; a round trip or an executemany row for PostgreSQL). A
chunk row holds every point one commit brings to one series inside one bucket of
``2**SHIFT`` steps, packed as four little-endian arrays (steps, seqs as int64;
timestamps, values as float64), so a commit of 10,000 points over 10 keys writes a
handful of rows. The float64 values keep their exact bit patterns (NaN payloads, -0.0)
without a side column.

Buckets partition the steps, so a step range maps to a contiguous primary-key range
and a bucket's points are complete once its chunks are read: reads sort by
``(step, writer, seq)`` one bucket at a time. Idempotency is not the table's job: the
store claims ``(writer, seq)`` before a point reaches a chunk.

Both backends use the same table (``point_chunks``: series, bucket, writer_id,
first_seq, n, data); the reads here take a backend's ``read`` callable and its
``ChunkQueries`` (the same SQL in that backend's parameter style).
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

SHIFT = 10  # 1024 steps per bucket
READ_CHUNKS = 512  # chunk rows per read, so a long series is read in slices (the lock is released between)

Read = Callable[[str, Sequence[Any]], list[Any]]

_LITTLE = sys.byteorder == "little"


@dataclass(frozen=True, slots=True)
class ChunkQueries:
    """The reads of ``point_chunks``, in one backend's parameter style (``?`` or ``%s``)."""

    slice: str  # bucket, writer_id, n, data of buckets [a, b] by bucket, at most N rows
    bucket: str  # bucket, writer_id, n, data of one bucket
    bucket_data: str  # n, data of one bucket
    edges: str  # min and max bucket of a series
    inner_count: str  # points in the buckets strictly between two buckets

    @classmethod
    def in_style(cls, marker: str) -> ChunkQueries:
        """The queries with ``marker`` for every parameter (the SQL holds no other ``?``)."""
        return cls(
            slice=(
                "SELECT bucket, writer_id, n, data FROM point_chunks WHERE series = ? AND bucket BETWEEN ? AND ?"
                " ORDER BY bucket LIMIT ?"
            ).replace("?", marker),
            bucket="SELECT bucket, writer_id, n, data FROM point_chunks WHERE series = ? AND bucket = ?".replace(
                "?", marker
            ),
            bucket_data="SELECT n, data FROM point_chunks WHERE series = ? AND bucket = ?".replace("?", marker),
            edges="SELECT min(bucket), max(bucket) FROM point_chunks WHERE series = ?".replace("?", marker),
            inner_count=(
                "SELECT coalesce(sum(n), 0) FROM point_chunks WHERE series = ? AND bucket > ? AND bucket < ?"
            ).replace("?", marker),
        )


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


def chunk_rows(writer_id: int, pending: dict[tuple[int, int], Pending]) -> list[tuple[int, int, int, int, int, bytes]]:
    """``(series, bucket, writer_id, first_seq, n, data)``: one row per (series, bucket) of a batch."""
    return [
        (sid, bucket, writer_id, min(p.seqs), len(p.steps), pack(p.steps, p.seqs, p.ts, p.values))
        for (sid, bucket), p in pending.items()
    ]


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


def points(read: Read, sql: ChunkQueries, sid: int, lo: int, hi: int) -> Iterator[tuple[int, float, float]]:
    """``(step, ts, value)`` of every point with lo <= step <= hi, by step (then writer, seq).

    Reads a few hundred chunk rows at a time and never splits a bucket between reads.
    """
    start, end = bucket_of(lo), bucket_of(hi)
    while start <= end:
        rows = read(sql.slice, (sid, start, end, READ_CHUNKS))
        if not rows:
            return
        if len(rows) == READ_CHUNKS:
            last = rows[-1][0]
            complete = [row for row in rows if row[0] < last]
            if not complete:  # one bucket holds more chunks than a read: take that bucket whole
                complete = read(sql.bucket, (sid, last))
                last += 1
            rows, start = complete, last
        else:
            start = end + 1
        for step, _writer, _seq, ts, value in _sorted_points(rows, lo, hi):
            yield step, ts, value


def step_bounds(read: Read, sql: ChunkQueries, sid: int) -> tuple[int | None, int | None]:
    """The lowest and the highest step of a series (None, None when it has no points)."""
    edge = read(sql.edges, (sid,))[0]
    if edge[0] is None:
        return None, None
    low = min(min(unpack(d, n)[0]) for n, d in read(sql.bucket_data, (sid, edge[0])))
    high = max(max(unpack(d, n)[0]) for n, d in read(sql.bucket_data, (sid, edge[1])))
    return int(low), int(high)


def count_between(read: Read, sql: ChunkQueries, sid: int, lo: int, hi: int) -> int:
    """How many points of a series have lo <= step <= hi (edge buckets are unpacked)."""
    first, last = bucket_of(lo), bucket_of(hi)
    inner = read(sql.inner_count, (sid, first, last))[0][0]
    edges = 0
    for bucket in {first, last}:
        for n, data in read(sql.bucket_data, (sid, bucket)):
            edges += sum(1 for step in unpack(data, n)[0] if lo <= step <= hi)
    return int(inner) + edges
