"""The chunk layout (``store/format/chunks.py``) in SQLite: its insert and its reads.

The packing, the buckets and the range reads are shared with every backend; this module
holds what is SQLite's own: ``?`` parameters and one ``executemany`` per commit (SQLite
inserts in-process, so a row costs no round trip).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..format import chunks as layout
from ..format.chunks import Pending, Read

SQL = layout.ChunkQueries.in_style("?")

_INSERT = "INSERT INTO point_chunks (series, bucket, writer_id, first_seq, n, data) VALUES (?, ?, ?, ?, ?, ?)"


def insert(db: Any, writer_id: int, pending: dict[tuple[int, int], Pending]) -> None:
    """Write one chunk row per (series, bucket) of the batch just applied."""
    db.executemany(_INSERT, layout.chunk_rows(writer_id, pending))


def points(read: Read, sid: int, lo: int, hi: int) -> Iterator[tuple[int, float, float]]:
    """``(step, ts, value)`` of every point with lo <= step <= hi, by step (then writer, seq)."""
    return layout.points(read, SQL, sid, lo, hi)


def step_bounds(read: Read, sid: int) -> tuple[int | None, int | None]:
    """The lowest and the highest step of a series (None, None when it has no points)."""
    return layout.step_bounds(read, SQL, sid)


def count_between(read: Read, sid: int, lo: int, hi: int) -> int:
    """How many points of a series have lo <= step <= hi."""
    return layout.count_between(read, SQL, sid, lo, hi)
