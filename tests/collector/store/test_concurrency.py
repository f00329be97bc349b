"""Several processes on one store: delivery workers claiming at once, collectors writing the same entries at once.

Each worker and each collector is a store object of its own (its own connections), as
separate processes would be; they run in threads so the test can start them together.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from alerts import Delivery
from collector.store import open_store
from emitter.events import Batch, Event, Kind

pytestmark = pytest.mark.every_backend


def together(work: Callable[[int], Any], count: int) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released at the same moment; their results, or the first error."""
    start = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = work(i)
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if errors:
        raise errors[0]
    return results


def test_due_deliveries_claimed_by_several_workers_at_once_are_each_claimed_once(store: Any, settings: Any) -> None:
    now = time.time()
    ids = [f"loss-nan|run-{i}#1.0@slack" for i in range(120)]
    store.alerts.add_deliveries([Delivery(i, "slack", {"n": n}, now - 200, now - 200 + n) for n, i in enumerate(ids)])
    workers = [open_store(settings) for _ in range(4)]
    try:

        def claim_all(i: int) -> list[str]:
            claimed: list[str] = []
            while batch := workers[i].alerts.claim_due(now, 7, now + 600):
                claimed.extend(d.id for d in batch)
                assert all(d.attempts == 1 and d.next_attempt_at == now + 600 for d in batch)
            return claimed

        claims = together(claim_all, len(workers))
    finally:
        for worker in workers:
            worker.close()
    every = [delivery for claimed in claims for delivery in claimed]
    assert sorted(every) == sorted(ids), "each due delivery claimed exactly once"
    assert store.alerts.claim_due(now, 100, now + 600) == [], "leased: due again only when the lease ends"
    assert {d.attempts for d in store.alerts.deliveries()} == {1}


def test_a_worker_claims_the_oldest_due_first(store: Any) -> None:
    now = time.time()
    due = [Delivery(f"r#{n}@hook", "hook", {}, now, now - n) for n in range(5)]
    store.alerts.add_deliveries([*due, Delivery("later@hook", "hook", {}, now, now + 60)])
    assert [d.id for d in store.alerts.claim_due(now, 3, now + 30)] == ["r#4@hook", "r#3@hook", "r#2@hook"]


def test_collectors_writing_the_same_entries_at_once_store_each_point_once(store: Any, settings: Any) -> None:
    """A redelivered entry may reach a second collector while the first still commits it: one copy is kept."""
    start = Event("r", "w", 0, 1.0, Kind.RUN_START, {"project": "p", "name": "racy", "config": {"lr": 0.1}})
    steps = [
        Event("r", "w", seq, 1.0 + seq, Kind.METRICS, {"step": seq, "values": {"x": float(seq)}})
        for seq in range(1, 301)
    ]
    batches = [Batch("r", "w", [start, *steps[:100]]), Batch("r", "w", steps[50:200]), Batch("r", "w", steps[150:])]
    collectors = [open_store(settings) for _ in range(3)]
    try:

        def write_all(i: int) -> int:
            points = 0
            for batch in batches[i:] + batches[:i]:  # each collector in another order
                points += collectors[i].write([batch], [], time.time()).points
            return points

        written = together(write_all, len(collectors))
    finally:
        for collector in collectors:
            collector.close()
    assert sum(written) == 300, "every point was applied by exactly one of them"
    assert [p.step for p in store.series.points("r")] == list(range(1, 301))
    assert store.watermark("r", "w") == 300
    run = store.runs.get("racy")
    assert run is not None and run.params == {"lr": 0.1} and run.metrics["x"].count == 300
    got = store.series.read("r", ["x"], max_points=10)["x"]
    assert got["downsampled"] and sum(got["counts"]) == 300 and got["level"] > 0
