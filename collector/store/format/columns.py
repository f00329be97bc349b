"""A writer's metric events, turned into per-series columns for the chunk rows.

Consecutive events of one kind that log the same keys (a training loop logs the same
dict every step) are handled as a segment: steps, seqs and timestamps are built once
and shared by every key, each key's values come out in one C-level transposition, and
a series' summary (count, min, max, last) uses ``min``/``max`` over the column. Per
point, Python does almost nothing: that is what lets one collector keep up with
hundreds of thousands of points per second.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from emitter.events import Event

from .chunks import SHIFT, Pending

Summary = list[Any]  # [last_step, last, min, max, count]; min/max NaN only when every value was NaN


def add_segment(
    events: Sequence[Event],
    keys: tuple[str, ...],
    series_id: Callable[[str], int],
    pending: dict[tuple[int, int], Pending],
    summary: dict[int, Summary],
) -> int:
    """Add consecutive metric events that share ``keys``; returns their highest step."""
    steps = [e.payload["step"] for e in events]
    seqs = [e.seq for e in events]
    stamps = [e.ts for e in events]
    values = [e.payload["values"] for e in events]
    if len(keys) == 1:
        columns: list[Sequence[float]] = [[v[keys[0]] for v in values]]
    else:
        columns = list(zip(*map(itemgetter(*keys), values), strict=True))
    top = max(steps)
    last = len(steps) - 1 - steps[::-1].index(top)  # the highest step, the latest among equals
    low_bucket, high_bucket = min(steps) >> SHIFT, top >> SHIFT
    if low_bucket == high_bucket:
        parts: list[tuple[int, list[int] | None]] = [(low_bucket, None)]
    else:
        by_bucket: dict[int, list[int]] = {}
        for i, step in enumerate(steps):
            by_bucket.setdefault(step >> SHIFT, []).append(i)
        parts = list(by_bucket.items())
    for key, column in zip(keys, columns, strict=True):
        sid = series_id(key)
        for bucket, picked in parts:
            chunk = pending.get((sid, bucket))
            if chunk is None:
                chunk = pending[(sid, bucket)] = Pending()
            if picked is None:
                chunk.steps.extend(steps)
                chunk.seqs.extend(seqs)
                chunk.ts.extend(stamps)
                chunk.values.extend(column)
            else:
                chunk.steps.extend([steps[i] for i in picked])
                chunk.seqs.extend([seqs[i] for i in picked])
                chunk.ts.extend([stamps[i] for i in picked])
                chunk.values.extend([column[i] for i in picked])
        low, high = bounds(column)
        _fold_summary(summary, sid, top, column[last], low, high, len(column))
    return int(top)


def bounds(column: Sequence[float]) -> tuple[float, float]:
    """min and max ignoring NaN (NaN, NaN when every value is NaN)."""
    total = sum(column)
    if total == total:  # no NaN (a NaN, or inf + -inf, makes the sum NaN: then look closer)
        return min(column), max(column)
    finite = [v for v in column if v == v]
    if not finite:
        return float("nan"), float("nan")
    return min(finite), max(finite)


def _fold_summary(
    summary: dict[int, Summary], sid: int, step: int, last: float, low: float, high: float, n: int
) -> None:
    agg = summary.get(sid)
    if agg is None:
        summary[sid] = [step, last, low, high, n]
        return
    if step >= agg[0]:
        agg[0] = step
        agg[1] = last
    if low < agg[2] or agg[2] != agg[2]:
        agg[2] = low
    if high > agg[3] or agg[3] != agg[3]:
        agg[3] = high
    agg[4] += n


def merge_summary(summary: dict[int, Summary], sid: int, later: Summary) -> None:
    """Fold the summary of series ``sid`` from a later batch into ``summary`` (one row update for both)."""
    _fold_summary(summary, sid, later[0], later[1], later[2], later[3], later[4])
