"""Downsampling from the multi-resolution rollups equals downsampling every point by brute force."""

from __future__ import annotations

import math
import random
import struct
from typing import Any

import pytest

from collector.store import open_store
from collector.store.format import rollups
from emitter.events import json_number
from tests.fake_run import FakeRun
from tests.stores import query

pytestmark = pytest.mark.every_backend

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
        out["values"].append(json_number(last))
        out["min"].append(json_number(math.nan if low is None else low))
        out["max"].append(json_number(math.nan if high is None else high))
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
        got = store.series.read(run.id, ["m"], max_points=max_points, from_step=from_step, to_step=to_step)["m"]
        lo = min(steps) if from_step is None else max(min(steps), from_step)
        hi = max(steps) if to_step is None else min(max(steps), to_step)
        assert got["downsampled"], (from_step, to_step, max_points)
        assert len(got["steps"]) <= max_points
        assert_matches_brute_force(got, points, lo, hi)
        assert got["level"] >= 1 or got["bucket_steps"] < 16


def assert_matches_brute_force(got: dict[str, Any], points: list[tuple[int, float]], lo: int, hi: int) -> None:
    width = rollups.width(got["level"]) if got["level"] else 1
    expected = brute(points, lo, hi, (lo // width) * width, got["bucket_steps"])
    for field in ("steps", "values", "min", "max", "nans", "counts"):
        exact = field not in ("min", "max")
        assert [key(v, exact) for v in got[field]] == [key(v, exact) for v in expected[field]], (field, got["level"])


def levels_kept(store: Any, run_id: str, metric: str = "m") -> list[int]:
    rows = query(
        store,
        "SELECT DISTINCT level FROM rollups WHERE series = (SELECT id FROM series WHERE run_id = ? AND key = ?)"
        " ORDER BY level",
        (run_id, metric),
    )
    return [level for (level,) in rows]


def test_a_series_keeps_only_the_levels_its_span_needs(fake_run: Any, store: Any) -> None:
    run = fake_run()
    run.log_many([(step, {"m": 1.0}) for step in range(1000)])
    assert levels_kept(store, run.id) == [1, 2, 3, 4]  # 1,000 steps fit one level-4 bucket (1,024 steps)
    run.log({"m": 2.0}, step=1024)  # now two level-4 buckets: level 5 is kept from here on
    assert levels_kept(store, run.id) == [1, 2, 3, 4, 5]
    run.log({"m": 3.0}, step=-1)  # a step below zero spans buckets at every level
    assert levels_kept(store, run.id) == list(range(1, rollups.LEVELS + 1))


def test_levels_built_as_a_series_grows_a_step_per_commit_match_brute_force(fake_run: Any, store: Any) -> None:
    """The shape of many runs each logging a step at a time: every level starts being kept mid-way."""
    rng = random.Random(7)
    run = fake_run()
    points: list[tuple[int, float]] = []

    def check() -> None:
        steps = [s for s, _ in points]
        for max_points in (2, 5, 40):
            got = store.series.read(run.id, ["m"], max_points=max_points)["m"]
            if len(points) > max_points:
                assert got["downsampled"]
                assert_matches_brute_force(got, points, min(steps), max(steps))

    def log(step: int) -> None:
        value = rng.choice(SPECIAL) if rng.random() < 0.05 else rng.gauss(0, 1)
        points.append((step, value))
        run.log({"m": value}, step=step)

    for step in range(1, 1100):
        log(step)
        if step in (15, 16, 17, 64, 65, 255, 256, 257, 1023, 1024, 1025):
            check()
    for step in (1099, 70_000, 5_000_000, 4_999_999, -3):  # a repeat, jumps ahead, a step back, below zero
        log(step)
        check()


def test_a_level_an_older_store_left_behind_is_rebuilt_when_it_starts_being_kept(fake_run: Any, store: Any) -> None:
    run = fake_run()
    run.log_many([(step, {"m": float(step)}) for step in range(100)])
    assert levels_kept(store, run.id) == [1, 2, 3]
    # what a store that updated every level left: a level-4 row, stale from here on
    query(
        store,
        "INSERT INTO rollups SELECT id, 4, 0, 1, 0, 5.0, 5.0, 5, 5.0, NULL FROM series WHERE run_id = ?",
        (run.id,),
    )
    run.log({"m": 500.0}, step=300)  # two level-3 buckets: level 4 is kept, built from level 3
    rows = query(store, "SELECT bucket, count, nans, min, max, last_step, last FROM rollups WHERE level = 4")
    assert rows == [(0, 101, 0, 0.0, 500.0, 300, 500.0)]


def test_a_reopened_store_takes_each_series_span_from_its_stored_points(
    fake_run: Any, store: Any, settings: Any
) -> None:
    run = fake_run()
    run.log_many([(step, {"m": 1.0}) for step in range(100)])
    reopened = open_store(settings)
    try:
        resumed = FakeRun(reopened, "cifar", run_id=run.id)
        resumed.log({"m": 2.0}, step=300)
        assert levels_kept(reopened, run.id) == [1, 2, 3, 4]
        got = reopened.series.read(run.id, ["m"], max_points=5)["m"]
        assert_matches_brute_force(got, [(s, 1.0) for s in range(100)] + [(300, 2.0)], 0, 300)
    finally:
        reopened.close()


def test_series_written_before_rollups_existed_fall_back_to_the_points(fake_run: Any, store: Any) -> None:
    run = fake_run()
    run.log_many([(step, {"m": float(step % 17)}) for step in range(20_000)])
    with_rollups = store.series.read(run.id, ["m"], max_points=100)["m"]
    query(store, "DELETE FROM rollups")
    without = store.series.read(run.id, ["m"], max_points=100)["m"]
    assert without["level"] == 0 and with_rollups["level"] > 0
    assert len(without["steps"]) <= 100 and without["steps"][-1] == 19_999
    assert sum(without["counts"]) == sum(with_rollups["counts"]) == 20_000
    assert (min(without["min"]), max(without["max"])) == (min(with_rollups["min"]), max(with_rollups["max"])) == (0, 16)


def test_the_coarsest_level_reads_few_rows_for_a_long_series(fake_run: Any, store: Any) -> None:
    run = fake_run()
    run.log_many([(step, {"m": 1.0}) for step in range(0, 2_000_000, 40)])  # 50k points over 2M steps
    got = store.series.read(run.id, ["m"], max_points=100)["m"]
    assert got["level"] >= 4 and len(got["steps"]) <= 100 and got["count"] == 50_000


def test_two_stores_writing_one_database_keep_reads_on_the_rollups(fake_run: Any, store: Any, settings: Any) -> None:
    """A store never decides the levels kept on a span another store has widened since (SQLite: it forgets
    the spans it cached when another connection committed; PostgreSQL: it reads them, locked, at each commit)."""
    other = open_store(settings)
    try:
        run = fake_run()
        elsewhere = FakeRun(other, "cifar", run_id=run.id)
        points = [(step, 1.0) for step in range(20)]
        run.log_many([(s, {"m": v}) for s, v in points])  # this store caches the span 0..19
        elsewhere.log({"m": 2.0}, step=5000)  # the other widens it: levels up to 6 are kept from here
        run.log({"m": 3.0}, step=10)  # must reach those levels too
        points += [(5000, 2.0), (10, 3.0)]
        got = store.series.read(run.id, ["m"], max_points=5)["m"]
        assert got["level"] > 0, "the reads fell back to every point: a level missed a point"
        assert_matches_brute_force(got, points, 0, 5000)
    finally:
        other.close()


def test_a_failed_write_leaves_no_cached_span_behind(fake_run: Any, store: Any) -> None:
    run = fake_run()
    run.log_many([(step, {"m": 1.0}) for step in range(20)])

    class Refuse:  # a write hook (store.base.WriteHook) that fails inside the transaction
        rolled_back = False

        def __call__(self, applied: Any, now: float) -> None:
            raise RuntimeError("hook failed")

        def after_commit(self) -> None:
            raise AssertionError("a failed write must not commit")

        def after_rollback(self) -> None:
            self.rolled_back = True

    refuse = Refuse()
    store.hooks.append(refuse)
    with pytest.raises(RuntimeError):
        run.log({"m": 2.0}, step=5000)  # rolled back: the span stays 0..19
    store.hooks.remove(refuse)
    assert refuse.rolled_back
    assert levels_kept(store, run.id) == [1, 2]
    run.log({"m": 3.0}, step=21)
    assert levels_kept(store, run.id) == [1, 2]
    got = store.series.read(run.id, ["m"], max_points=1)["m"]
    assert got["level"] > 0
    assert_matches_brute_force(got, [(s, 1.0) for s in range(20)] + [(21, 3.0)], 0, 21)
