"""Series reads of the PostgreSQL store: charts (downsampled through rollups), exact points, counts.

The chart read is ``format/downsample.py``, as for SQLite; this class is its
``SeriesSource`` over PostgreSQL. A series' step span comes from its row (kept by the
ingest in the same transaction as its chunks), not from reading its edge chunks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ..base import Point
from ..format import chunks
from ..format.downsample import read_series
from .database import Database

SQL = chunks.ChunkQueries.in_style("%s")


class PostgresSeries:
    """``base.SeriesStore`` over the PostgreSQL database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def read(
        self,
        run_id: str,
        keys: Sequence[str] | None = None,
        *,
        max_points: int = 1000,
        from_step: int | None = None,
        to_step: int | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Each metric of a run in ``[from_step, to_step]``, at most ``max_points`` buckets (0: every point).

        Downsampled buckets keep min, max, last and the NaN count, so spikes and NaNs show.
        """
        sql = "SELECT id, key, count, low_step, high_step FROM series WHERE run_id = %s"
        args: list[Any] = [run_id]
        if keys:
            sql += " AND key = ANY(%s::text[])"
            args.append(list(keys))
        out: dict[str, dict[str, Any]] = {}
        for sid, key, count, low, high in self._db.read(sql + " ORDER BY key", args):
            out[key] = read_series(self, sid, count, (low, high), max_points, from_step, to_step)
        return out

    # ------------------------------------------------------------ downsample.SeriesSource

    def raw(self, sid: int, lo: int, hi: int) -> Iterator[tuple[int, float, float]]:
        """``(step, ts, value)`` of every point with lo <= step <= hi, in step order (then writer, seq)."""
        return chunks.points(self._db.read, SQL, sid, lo, hi)

    def count_between(self, sid: int, lo: int, hi: int) -> int:
        return chunks.count_between(self._db.read, SQL, sid, lo, hi)

    def rollup_count(self, sid: int, level: int) -> int:
        row = self._db.read("SELECT sum(count) FROM rollups WHERE series = %s AND level = %s", (sid, level))
        return int(row[0][0] or 0)

    def rollup_rows(self, sid: int, level: int, first: int, last: int) -> list[Any]:
        return self._db.read(
            "SELECT bucket, count, nans, min, max, last_step, last, last_bits FROM rollups"
            " WHERE series = %s AND level = %s AND bucket BETWEEN %s AND %s ORDER BY bucket",
            (sid, level, first, last),
        )

    # ------------------------------------------------------------ exact reads

    def points(self, run_id: str, keys: Sequence[str] | None = None) -> Iterator[Point]:
        """Every stored point of a run, exact, ordered by key then step then arrival."""
        rows = self._db.read(
            "SELECT id, key, low_step, high_step FROM series WHERE run_id = %s ORDER BY key", (run_id,)
        )
        for sid, key, low, high in rows:
            if keys is not None and key not in keys:
                continue
            if low is None or high is None:
                continue
            for step, ts, value in chunks.points(self._db.read, SQL, sid, low, high):
                yield Point(step, ts, key, value)

    def count_points(self, run_id: str | None = None) -> int:
        if run_id is None:
            return int(self._db.read("SELECT coalesce(sum(n), 0) FROM point_chunks")[0][0])
        return int(
            self._db.read(
                "SELECT coalesce(sum(n), 0) FROM point_chunks"
                " WHERE series IN (SELECT id FROM series WHERE run_id = %s)",
                (run_id,),
            )[0][0]
        )

    def keys(self, run_id: str, kind: str | None = None) -> list[str]:
        if kind is None:
            rows = self._db.read("SELECT key FROM series WHERE run_id = %s ORDER BY key", (run_id,))
        else:
            rows = self._db.read("SELECT key FROM series WHERE run_id = %s AND kind = %s ORDER BY key", (run_id, kind))
        return [key for (key,) in rows]
