"""Multi-resolution summaries of metric series, kept up to date as points arrive.

Level ``L`` (1..``LEVELS``) groups a series' points into buckets of ``width(L)`` steps
(16, 64, 256, ... 16·4^10); each bucket keeps count, NaN count, min, max and its last
point (highest step, then latest arrival). A downsampled read of a range picks the
coarsest level whose buckets are no wider than the requested bucket and merges at most
four rows per returned bucket, so it costs the same for 10 thousand or 10 million points.

A backend calls ``plan`` inside the write transaction with the points just written, per
(series, chunk bucket), upserts the rows it returns and builds the levels it names
(``build_level``). A bucket's ``last`` is stored as REAL plus ``last_bits``, the exact
float64 pattern of NaN and -0.0 (``exact.py``).

A level is kept for a series only once its points span more than one bucket of the level
below (``top_level``): until then its single bucket would repeat that one, and a read never
asks for it (``downsample.py``). A run logging a step at a time for its first thousand
steps updates 4 levels per point, not 11. A level starting to be kept is built from the one
below, inside the same transaction.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from itertools import islice
from operator import le
from typing import Any

from .chunks import Pending
from .columns import bounds
from .exact import to_columns

LEVELS = 11
BASE_SHIFT = 4  # level 1: 16 steps per bucket
LEVEL_SHIFT = 2  # each level 4x wider than the one below


def shift(level: int) -> int:
    """log2 of the bucket width of ``level``."""
    return BASE_SHIFT + LEVEL_SHIFT * (level - 1)


def width(level: int) -> int:
    return 1 << shift(level)


# An aggregate is a list: [count, nans, min, max, last_step, last, last_bits]
Aggregate = list[Any]


def top_level(low: int | None, high: int | None) -> int:
    """The coarsest level kept for a series whose steps span ``[low, high]``.

    Level ``L > 1`` is kept once the points span more than one bucket of level ``L - 1``.
    """
    if low is None or high is None:
        return 1
    level = 1
    while level < LEVELS and (low >> shift(level)) != (high >> shift(level)):
        level += 1
    return level


def plan(
    pending: Mapping[tuple[int, int], Pending], tops: Mapping[int, tuple[int, int]]
) -> tuple[list[tuple[Any, ...]], list[tuple[int, int]]]:
    """What the points just written (per series, as ``chunks.Pending``) change in the rollups.

    ``tops`` gives each series' ``top_level`` before and after these points. Returns the
    rows to upsert, ``(series, level, bucket, *aggregate)`` for the levels up to the first,
    and the ``(series, level)`` to build from the level below, in order, after the upserts.
    """
    if not pending:
        return [], []
    leaving: dict[int, set[int]] = {}  # level -> series not kept at that level (before these points)
    for sid, (before, _after) in tops.items():
        if before < LEVELS:
            leaving.setdefault(before + 1, set()).add(sid)
    level = _fold_points(pending)
    out: list[tuple[Any, ...]] = []
    for lvl in range(1, LEVELS + 1):
        if lvl > 1:
            gone = leaving.get(lvl)
            if gone:
                level = {key: agg for key, agg in level.items() if key[0] not in gone}
            if not level:
                break
            level = _fold_up(level)
        out.extend((sid, lvl, bucket, *agg) for (sid, bucket), agg in level.items())
    builds = [(sid, lvl) for sid, (before, after) in tops.items() for lvl in range(before + 1, after + 1)]
    return out, builds


def build_level(rows: Sequence[Sequence[Any]]) -> dict[int, Aggregate]:
    """A level's buckets from the rows ``(bucket, *aggregate)`` of the level below (it starts being kept)."""
    up: dict[int, Aggregate] = {}
    for bucket, *agg in rows:
        found = up.get(bucket >> LEVEL_SHIFT)
        if found is None:
            up[bucket >> LEVEL_SHIFT] = agg
        else:
            merge(found, agg)  # children are disjoint step ranges: no tie on last_step
    return up


def point_aggregate(step: int, value: float) -> list[Any]:
    """The aggregate of a single point (a bucket read from raw points)."""
    last, bits = to_columns(value)
    if value != value:
        return [1, 1, None, None, step, last, bits]
    return [1, 0, value, value, step, last, bits]


def _fold_points(pending: Mapping[tuple[int, int], Pending]) -> dict[tuple[int, int], list[Any]]:
    """Level-1 aggregates of this batch's points, in arrival order."""
    level: dict[tuple[int, int], list[Any]] = {}
    for (sid, _bucket), points in pending.items():
        steps = points.steps
        if len(steps) > 1 and not all(map(le, steps, islice(steps, 1, None))):
            _fold_unordered(level, sid, steps, points.values)
            continue
        # steps never go down: each level-1 bucket is one slice, folded by C-level min/max
        values = points.values
        start, end = 0, len(steps)
        while start < end:
            bucket = steps[start] >> BASE_SHIFT
            stop = bisect_left(steps, (bucket + 1) << BASE_SHIFT, start, end)
            column = values[start:stop]
            low, high = bounds(column)
            agg: list[Any]
            if low != low:  # every value is NaN
                agg = [len(column), len(column), None, None, steps[stop - 1], values[stop - 1]]
            else:
                agg = [len(column), _nans(column), low, high, steps[stop - 1], values[stop - 1]]
            level[(sid, bucket)] = agg
            start = stop
    for agg in level.values():  # the last value as its columns: (REAL, exact bits for NaN and -0.0)
        agg[5:] = to_columns(agg[5])
    return level


def _nans(column: Sequence[float]) -> int:
    total = sum(column)
    return 0 if total == total else sum(1 for v in column if v != v)


def _fold_unordered(
    level: dict[tuple[int, int], list[Any]], sid: int, steps: Sequence[int], values: Sequence[float]
) -> None:
    base = BASE_SHIFT
    for step, value in zip(steps, values, strict=True):
        key = (sid, step >> base)
        agg = level.get(key)
        if agg is None:
            level[key] = [1, 0, value, value, step, value] if value == value else [1, 1, None, None, step, value]
            continue
        agg[0] += 1
        if value != value:
            agg[1] += 1
        else:
            low = agg[2]
            if low is None or value < low:
                agg[2] = value
            high = agg[3]
            if high is None or value > high:
                agg[3] = value
        if step >= agg[4]:
            agg[4] = step
            agg[5] = value


def _fold_up(level: dict[tuple[int, int], list[Any]]) -> dict[tuple[int, int], list[Any]]:
    """The next coarser level's aggregates from this level's (buckets of 4 children)."""
    up: dict[tuple[int, int], list[Any]] = {}
    for (sid, bucket), child in level.items():
        key = (sid, bucket >> LEVEL_SHIFT)
        agg = up.get(key)
        if agg is None:
            up[key] = list(child)
        else:
            merge(agg, child)
    return up


def merge(agg: list[Any], other: Sequence[Any]) -> None:
    """Fold the aggregate ``other`` into ``agg`` (``other`` arrived later on equal steps)."""
    agg[0] += other[0]
    agg[1] += other[1]
    if other[2] is not None and (agg[2] is None or other[2] < agg[2]):
        agg[2] = other[2]
    if other[3] is not None and (agg[3] is None or other[3] > agg[3]):
        agg[3] = other[3]
    if other[4] >= agg[4]:
        agg[4] = other[4]
        agg[5] = other[5]
        agg[6] = other[6]
