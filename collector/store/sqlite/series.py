"""Series reads of the SQLite store: charts (downsampled through rollups), exact points, counts.

The chart read itself (every point, or buckets folded from the rollups plus the ragged
edges) is ``format/downsample.py``; this class is its ``SeriesSource`` over SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ..base import Point
from ..format.downsample import read_series
from . import chunks
from .database import Database


class SQLiteSeries:
    """``base.SeriesStore`` over the SQLite database."""

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
        sql = "SELECT id, key, count FROM series WHERE run_id = ?"
        args: list[Any] = [run_id]
        if keys:
            sql += f" AND key IN ({','.join('?' * len(keys))})"
            args.extend(keys)
        out: dict[str, dict[str, Any]] = {}
        for sid, key, count in self._db.read(sql + " ORDER BY key", args):
            bounds = chunks.step_bounds(self._db.read, sid)
            out[key] = read_series(self, sid, count, bounds, max_points, from_step, to_step)
        return out

    # ------------------------------------------------------------ downsample.SeriesSource

    def raw(self, sid: int, lo: int, hi: int) -> Iterator[tuple[int, float, float]]:
        """``(step, ts, value)`` of every point with lo <= step <= hi, in step order (then writer, seq)."""
        return chunks.points(self._db.read, sid, lo, hi)

    def count_between(self, sid: int, lo: int, hi: int) -> int:
        return chunks.count_between(self._db.read, sid, lo, hi)

    def rollup_count(self, sid: int, level: int) -> int:
        row = self._db.read("SELECT sum(count) FROM rollups WHERE series = ? AND level = ?", (sid, level))
        return int(row[0][0] or 0)

    def rollup_rows(self, sid: int, level: int, first: int, last: int) -> list[Any]:
        return self._db.read(
            "SELECT bucket, count, nans, min, max, last_step, last, last_bits FROM rollups"
            " WHERE series = ? AND level = ? AND bucket BETWEEN ? AND ? ORDER BY bucket",
            (sid, level, first, last),
        )

    # ------------------------------------------------------------ exact reads

    def points(self, run_id: str, keys: Sequence[str] | None = None) -> Iterator[Point]:
        """Every stored point of a run, exact, ordered by key then step then arrival."""
        for sid, key in self._db.read("SELECT id, key FROM series WHERE run_id = ? ORDER BY key", (run_id,)):
            if keys is not None and key not in keys:
                continue
            low, high = chunks.step_bounds(self._db.read, sid)
            if low is None or high is None:
                continue
            for step, ts, value in chunks.points(self._db.read, sid, low, high):
                yield Point(step, ts, key, value)

    def count_points(self, run_id: str | None = None) -> int:
        if run_id is None:
            return int(self._db.read("SELECT coalesce(sum(n), 0) FROM point_chunks")[0][0])
        return int(
            self._db.read(
                "SELECT coalesce(sum(n), 0) FROM point_chunks WHERE series IN (SELECT id FROM series WHERE run_id = ?)",
                (run_id,),
            )[0][0]
        )

    def keys(self, run_id: str, kind: str | None = None) -> list[str]:
        if kind is None:
            rows = self._db.read("SELECT key FROM series WHERE run_id = ? ORDER BY key", (run_id,))
        else:
            rows = self._db.read("SELECT key FROM series WHERE run_id = ? AND kind = ? ORDER BY key", (run_id, kind))
        return [key for (key,) in rows]
