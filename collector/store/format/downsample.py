"""A chart read of one series: every point when few enough, else buckets folded from the rollups.

A read of a range asks for at most ``max_points`` buckets. With few enough points it
returns them all; otherwise it folds the coarsest rollup level whose buckets are no
wider than a requested bucket (``rollups.py``) plus the raw points at the range's
ragged edges, so it costs the same for ten thousand or ten million points. Buckets keep
min, max, last and the NaN count, so spikes and NaNs always show.

A backend supplies its stored data through ``SeriesSource``; the arithmetic is here once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from emitter.events import json_number

from .exact import from_columns
from .rollups import merge, point_aggregate, top_level, width


class SeriesSource(Protocol):
    """What a downsampled read needs from a backend, for one series id."""

    def raw(self, sid: int, lo: int, hi: int) -> Iterator[tuple[int, float, float]]:
        """``(step, ts, value)`` of every point with lo <= step <= hi, by step (then writer, seq)."""
        ...

    def count_between(self, sid: int, lo: int, hi: int) -> int: ...

    def rollup_count(self, sid: int, level: int) -> int:
        """Points counted by the series' rollup rows of ``level``."""
        ...

    def rollup_rows(self, sid: int, level: int, first: int, last: int) -> Sequence[Sequence[Any]]:
        """``(bucket, count, nans, min, max, last_step, last, last_bits)`` of buckets [first, last], by bucket."""
        ...


def read_series(
    source: SeriesSource,
    sid: int,
    count: int,
    bounds: tuple[int | None, int | None],
    max_points: int,
    from_step: int | None,
    to_step: int | None,
) -> dict[str, Any]:
    """One series in ``[from_step, to_step]`` (JSON-ready); ``bounds`` are its lowest and highest step."""
    low, high = bounds
    empty = {"steps": [], "ts": [], "values": [], "count": 0, "downsampled": False}
    if low is None or high is None:
        return empty
    lo = low if from_step is None else max(low, from_step)
    hi = high if to_step is None else min(high, to_step)
    if lo > hi:
        return empty
    if max_points > 0:
        n = source.count_between(sid, lo, hi)
    if max_points <= 0 or n <= max_points:
        steps: list[int] = []
        times: list[float] = []
        values: list[Any] = []
        for step, ts, value in source.raw(sid, lo, hi):
            steps.append(step)
            times.append(ts)
            values.append(json_number(value))
        return {"steps": steps, "ts": times, "values": values, "count": len(steps), "downsampled": False}
    return _downsample(source, sid, count, max_points, lo, hi, (low, high))


def _rollups_complete(source: SeriesSource, sid: int, count: int, top: int) -> bool:
    """Whether the rollups hold every point (false for points stored before they existed).

    Counted at the series' coarsest kept level ``top``: one row, or a few at the last level.
    """
    return source.rollup_count(sid, top) == count


def _downsample(
    source: SeriesSource, sid: int, count: int, max_points: int, lo: int, hi: int, bounds: tuple[int, int]
) -> dict[str, Any]:
    """Buckets of the range from the coarsest rollup level no wider than a bucket wants."""
    span = hi - lo + 1
    wanted = -(-span // max_points)  # the narrowest bucket that gives at most max_points buckets
    level = 0
    top = top_level(*bounds)  # levels above are not kept (a range never wants them anyway)
    if wanted >= width(1) and _rollups_complete(source, sid, count, top):
        level = max(lvl for lvl in range(1, top + 1) if width(lvl) <= wanted)
    w = width(level) if level else 1
    base = (lo // w) * w
    bucket = w * -(-(hi - base + 1) // (max_points * w))
    aggs: dict[int, list[Any]] = {}

    def fold(target: int, agg: list[Any]) -> None:
        found = aggs.get(target)
        if found is None:
            aggs[target] = agg
        else:
            merge(found, agg)

    def fold_raw(a: int, b: int) -> None:
        for step, _ts, value in source.raw(sid, a, b):
            fold((step - base) // bucket, point_aggregate(step, value))

    if level:
        first = -(-lo // w)  # first bucket entirely inside [lo, hi]
        last = (hi + 1) // w - 1
        if first <= last:
            if lo < first * w:
                fold_raw(lo, first * w - 1)
            for b, *agg in source.rollup_rows(sid, level, first, last):
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
