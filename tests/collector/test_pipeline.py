"""From run.log() to a committed row: exact values, idempotency, resume."""

from __future__ import annotations

import math
import struct

import pytest

import emitter
from tests.helpers import wait_for

pytestmark = pytest.mark.every_backend

SPECIALS = [float("nan"), float("inf"), float("-inf"), -0.0, 0.0, 5e-324, 1.7976931348623157e308]


def bits(value: float) -> bytes:
    return struct.pack("<d", value)


def test_a_logged_point_is_stored_exactly_including_nan_inf_and_negative_zero(emitter_env, collector, store):
    run = emitter.init("exact", config={"lr": 0.01})
    for step, value in enumerate(SPECIALS):
        run.log({"v": value}, step=step)
    run.finish()

    wait_for(lambda: store.series.count_points(run.id) == len(SPECIALS), what="all points committed")
    stored = [p.value for p in store.series.points(run.id)]
    assert [bits(v) for v in stored] == [bits(v) for v in SPECIALS]
    record = store.runs.get(run.id)
    assert record.status == "finished"
    assert record.params == {"lr": 0.01}
    assert bits(record.metrics["v"].last) == bits(1.7976931348623157e308)


def test_out_of_order_steps_are_all_stored(emitter_env, collector, store):
    run = emitter.init("order")
    for step in (5, 3, 9, 3, 0):
        run.log({"loss": float(step)}, step=step)
    run.finish()
    wait_for(lambda: store.series.count_points(run.id) == 5, what="5 points")
    assert sorted(p.step for p in store.series.points(run.id)) == [0, 3, 3, 5, 9]
    summary = store.runs.get(run.id).metrics["loss"]
    assert (summary.last_step, summary.last, summary.min, summary.max) == (9, 9.0, 0.0, 9.0)


def test_a_resumed_run_keeps_both_writers_points(emitter_env, collector, store):
    first = emitter.init("resume", name="preemptible", config={"lr": 0.1})
    for step in range(100):
        first.log({"loss": 1.0 / (step + 1)}, step=step)
    first.finish("killed")
    second = emitter.init("resume", run_id=first.id, config={"lr": 0.5, "restarts": 1})
    for step in range(100, 200):
        second.log({"loss": 1.0 / (step + 1)}, step=step)
    second.finish()

    wait_for(lambda: store.series.count_points(first.id) == 200, what="200 points from both writers")
    record = store.runs.get(first.id)
    assert record.name == "preemptible"  # nothing stored is overwritten
    assert record.params == {"lr": 0.1, "restarts": 1}
    assert record.status == "finished"
    assert sorted(p.step for p in store.series.points(first.id)) == list(range(200))


def test_nan_summary_does_not_poison_min_and_max(emitter_env, collector, store):
    run = emitter.init("nan-summary")
    run.log({"loss": 1.0}, step=0)
    run.log({"loss": math.nan}, step=1)
    run.log({"loss": 0.5}, step=2)
    run.finish()
    wait_for(lambda: store.series.count_points(run.id) == 3, what="3 points")
    summary = store.runs.get(run.id).metrics["loss"]
    assert (summary.min, summary.max, summary.last, summary.count) == (0.5, 1.0, 0.5, 3)
