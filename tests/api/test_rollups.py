"""Downsampling from the multi-resolution rollups equals downsampling every point by brute force."""

from __future__ import annotations

import math
import random
import struct
from typing import Any

import pytest

from collector.store import queries, rollups

SPECIAL = [float("nan"), float("inf"), float("-inf"), -0.0, 0.0]


def key(value: Any, signed_zero: bool = True) -> Any:
    """Compare JSON values exactly (bit patterns for floats; min/max do not tell -0.0 from 0.0)."""
    if isinstance(value, float):
        return struct.pack("<d", value if signed_zero else value + 0.0)
    return value


def brute(points: list[tuple[int, float]], lo: int, hi: int, base: int, width: int) -> dict[str, list[Any]]:
    buckets: dict[int, list[Any]] = {}
    for step, value in points:  # arrival order: a later point on the same step wins "last"
        if not lo <= step <= hi:
            continue
        agg = buckets.setdefault((step - base) // width, [0, 0, None, None, None, None])
        agg[0] += 1
        if value != value:
            agg[1] += 1
        else:
            agg[2] = value if agg[2] is None else min(agg[2], value)
            agg[3] = value if agg[3] is None else max(agg[3], value)
        if agg[4] is None or step >= agg[4]:
            agg[4], agg[5] = step, value
    out: dict[str, list[Any]] = {"steps": [], "values": [], "min": [], "max": [], "nans": [], "counts": []}
    for target in sorted(buckets):
        n, nans, low, high, step, last = buckets[target]
        out["steps"].append(step)
        out["values"].append(queries.jnum(last))
        out["min"].append(queries.jnum(math.nan if low is None else low))
        out["max"].append(queries.jnum(math.nan if high is None else high))
        out["nans"].append(nans)
        out["counts"].append(n)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_rollup_downsampling_matches_brute_force(fake_run: Any, store: Any, seed: int) -> None:
    rng = random.Random(seed)
    run = fake_run()
    points: list[tuple[int, float]] = []
    step = rng.randrange(-5000, 100)
    while len(points) < 30_000:
        step += rng.choice([1, 1, 1, 2, 7, 0])  # duplicates and gaps
        if rng.random() < 0.01:
            step -= rng.randrange(1, 300)  # out of order
        value = rng.choice(SPECIAL) if rng.random() < 0.01 else rng.gauss(0, 1) * 10 ** rng.randrange(-3, 4)
        points.append((step, value))
    position = 0
    while position < len(points):  # batches of random size, as the consumer commits them
        size = rng.randrange(1, 3000)
        run.log_many([(s, {"m": v}) for s, v in points[position : position + size]])
        position += size
    steps = [s for s, _ in points]
    cases = [(None, None, 500), (None, None, 37), (min(steps) + 123, max(steps) - 77, 200), (0, 20_000, 1000)]
    for from_step, to_step, max_points in cases:
        got = queries.series(store, run.id, ["m"], max_points=max_points, from_step=from_step, to_step=to_step)["m"]
        lo = min(steps) if from_step is None else max(min(steps), from_step)
        hi = max(steps) if to_step is None else min(max(steps), to_step)
        assert got["downsampled"], (from_step, to_step, max_points)
        assert len(got["steps"]) <= max_points
        width = rollups.width(got["level"]) if got["level"] else 1
        expected = brute(points, lo, hi, (lo // width) * width, got["bucket_steps"])
        for field in ("steps", "values", "min", "max", "nans", "counts"):
            exact = field not in ("min", "max")
            assert [key(v, exact) for v in got[field]] == [key(v, exact) for v in expected[field]], (field, max_points)
        assert got["level"] >= 1 or got["bucket_steps"] < 16


def test_series_written_before_rollups_existed_fall_back_to_the_points(fake_run: Any, store: Any) -> None:
    run = fake_run()
    run.log_many([(step, {"m": float(step % 17)}) for step in range(20_000)])
    with_rollups = queries.series(store, run.id, ["m"], max_points=100)["m"]
    with store._lock:
        store._db.execute("DELETE FROM rollups")
    without = queries.series(store, run.id, ["m"], max_points=100)["m"]
    assert without["level"] == 0 and with_rollups["level"] > 0
    assert len(without["steps"]) <= 100 and without["steps"][-1] == 19_999
    assert sum(without["counts"]) == sum(with_rollups["counts"]) == 20_000
    assert (min(without["min"]), max(without["max"])) == (min(with_rollups["min"]), max(with_rollups["max"])) == (0, 16)


def test_the_coarsest_level_reads_few_rows_for_a_long_series(fake_run: Any, store: Any) -> None:
    run = fake_run()
    run.log_many([(step, {"m": 1.0}) for step in range(0, 2_000_000, 40)])  # 50k points over 2M steps
    got = queries.series(store, run.id, ["m"], max_points=100)["m"]
    assert got["level"] >= 4 and len(got["steps"]) <= 100 and got["count"] == 50_000
