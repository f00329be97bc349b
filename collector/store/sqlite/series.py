"""Series reads of the SQLite store: charts (downsampled through rollups), exact points, counts.

A read of a range asks for at most ``max_points`` buckets. With few enough points it
returns them all; otherwise it folds the coarsest rollup level whose buckets are no
wider than a requested bucket (``rollups.py``) plus the raw points at the range's
ragged edges, so it costs the same for ten thousand or ten million points. Buckets keep
min, max, last and the NaN count, so spikes and NaNs always show.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

from emitter.events import json_number

from ..base import Point
from . import chunks, rollups
from .database import Database
from .exact import from_columns


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
            out[key] = self._one_series(sid, count, max_points, from_step, to_step)
        return out

    def _raw(self, sid: int, lo: int, hi: int) -> Iterator[tuple[int, float, float]]:
        """``(step, ts, value)`` of every point with lo <= step <= hi, in step order (then writer, seq)."""
        return chunks.points(self._db.read, sid, lo, hi)

    def _rollups_complete(self, sid: int, count: int, top: int) -> bool:
        """Whether the rollups hold every point (false for points stored before they existed).

        Counted at the series' coarsest kept level ``top``: one row, or a few at the last level.
        """
        row = self._db.read("SELECT sum(count) FROM rollups WHERE series = ? AND level = ?", (sid, top))
        return (row[0][0] or 0) == count

    def _one_series(
        self, sid: int, count: int, max_points: int, from_step: int | None, to_step: int | None
    ) -> dict[str, Any]:
        low, high = chunks.step_bounds(self._db.read, sid)
        empty = {"steps": [], "ts": [], "values": [], "count": 0, "downsampled": False}
        if low is None or high is None:
            return empty
        lo = low if from_step is None else max(low, from_step)
        hi = high if to_step is None else min(high, to_step)
        if lo > hi:
            return empty
        if max_points > 0:
            n = chunks.count_between(self._db.read, sid, lo, hi)
        if max_points <= 0 or n <= max_points:
            steps: list[int] = []
            times: list[float] = []
            values: list[Any] = []
            for step, ts, value in self._raw(sid, lo, hi):
                steps.append(step)
                times.append(ts)
                values.append(json_number(value))
            return {"steps": steps, "ts": times, "values": values, "count": len(steps), "downsampled": False}
        return self._downsample(sid, count, max_points, lo, hi, (low, high))

    def _downsample(
        self, sid: int, count: int, max_points: int, lo: int, hi: int, bounds: tuple[int, int]
    ) -> dict[str, Any]:
        """Buckets of the range from the coarsest rollup level no wider than a bucket wants."""
        span = hi - lo + 1
        wanted = -(-span // max_points)  # the narrowest bucket that gives at most max_points buckets
        level = 0
        top = rollups.top_level(*bounds)  # levels above are not kept (a range never wants them anyway)
        if wanted >= rollups.width(1) and self._rollups_complete(sid, count, top):
            level = max(lvl for lvl in range(1, top + 1) if rollups.width(lvl) <= wanted)
        w = rollups.width(level) if level else 1
        base = (lo // w) * w
        bucket = w * -(-(hi - base + 1) // (max_points * w))
        aggs: dict[int, list[Any]] = {}

        def fold(target: int, agg: list[Any]) -> None:
            found = aggs.get(target)
            if found is None:
                aggs[target] = agg
            else:
                rollups.merge(found, agg)

        def fold_raw(a: int, b: int) -> None:
            for step, _ts, value in self._raw(sid, a, b):
                fold((step - base) // bucket, rollups.point_aggregate(step, value))

        if level:
            first = -(-lo // w)  # first bucket entirely inside [lo, hi]
            last = (hi + 1) // w - 1
            if first <= last:
                if lo < first * w:
                    fold_raw(lo, first * w - 1)
                rows = self._db.read(
                    "SELECT bucket, count, nans, min, max, last_step, last, last_bits FROM rollups"
                    " WHERE series = ? AND level = ? AND bucket BETWEEN ? AND ? ORDER BY bucket",
                    (sid, level, first, last),
                )
                for b, *agg in rows:
                    fold((b * w - base) // bucket, agg)
                if (last + 1) * w <= hi:
                    fold_raw((last + 1) * w, hi)
            else:
                fold_raw(lo, hi)
        else:
            fold_raw(lo, hi)
        steps, values, lows, highs, nans, counts = [], [], [], [], [], []
        for target in sorted(aggs):
            n, nan, low, high, step, last_value, last_bits = aggs[target]
            steps.append(step)
            values.append(json_number(from_columns(last_value, last_bits)))
            lows.append(json_number(math.nan if low is None else low))
            highs.append(json_number(math.nan if high is None else high))
            nans.append(nan)
            counts.append(n)
        return {
            "steps": steps,
            "values": values,
            "min": lows,
            "max": highs,
            "nans": nans,
            "counts": counts,
            "count": sum(counts),
            "downsampled": True,
            "bucket_steps": bucket,
            "level": level,
        }

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
