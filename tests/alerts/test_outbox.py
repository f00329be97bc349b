"""The outbox: transitions become deliveries; the worker sends each once, retrying as told.

Most tests drive ``run_once`` with an injected clock, so no test sleeps to see a retry.
"""

from __future__ import annotations

import asyncio
import math
import random
import time

import pytest

from alerts.engine import Transition, evaluate
from alerts.errors import NotifyError
from alerts.memory_outbox import MemoryOutbox
from alerts.notifiers.memory import MemoryNotifier
from alerts.outbox import Backoff, Delivery, DeliveryStatus, DeliveryWorker, deliveries_for
from alerts.rules_file import parse_rules
from alerts.state import AlertState
from tests.alerts.events import RUN, metric
from tests.helpers import eventually


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def nan_transition(now: float = 1000.0, notify: str = "[a, b]") -> list[Transition]:
    ruleset = parse_rules(
        f"channels: {{a: {{type: console}}, b: {{type: console}}}}\n"
        f"rules: [{{name: nan, metric: loss, condition: nonfinite, notify: {notify}}}]"
    )
    return evaluate(ruleset, AlertState(), [metric(3, loss=math.nan)], now)


def setup(
    *notifiers: MemoryNotifier, clock: Clock | None = None, **kw: object
) -> tuple[MemoryOutbox, DeliveryWorker, Clock]:
    clock = clock or Clock()
    outbox = MemoryOutbox()
    worker = DeliveryWorker(
        outbox,
        {n.name: n for n in notifiers},
        clock=clock,
        public_url="http://rw.test",
        rng=random.Random(7),
        **kw,  # type: ignore[arg-type]
    )
    return outbox, worker, clock


def test_one_delivery_per_notify_channel_with_stable_ids() -> None:
    deliveries = deliveries_for(nan_transition(), now=1000.0)

    assert [(d.id, d.channel, d.next_attempt_at, d.attempts) for d in deliveries] == [
        (f"nan|{RUN}#1.0@a", "a", 1000.0, 0),
        (f"nan|{RUN}#1.0@b", "b", 1000.0, 0),
    ]
    assert deliveries[0].transition.id == nan_transition()[0].id
    value = deliveries[0].transition.value
    assert value is not None and math.isnan(value)


def test_adding_the_same_delivery_twice_changes_nothing() -> None:
    outbox = MemoryOutbox()
    outbox.add_deliveries(deliveries_for(nan_transition(), 1000.0))
    outbox.add_deliveries(deliveries_for(nan_transition(), 1000.0))
    assert len(outbox.all()) == 2


async def test_each_delivery_is_sent_once_with_a_link_to_the_run() -> None:
    a, b = MemoryNotifier("a"), MemoryNotifier("b")
    outbox, worker, _ = setup(a, b)
    outbox.add_deliveries(deliveries_for(nan_transition(), 1000.0))

    assert await worker.run_once() == 2
    assert await worker.run_once() == 0

    assert [m.link for m in a.messages + b.messages] == [f"http://rw.test/runs/{RUN}"] * 2
    assert {d.status for d in outbox.all()} == {DeliveryStatus.SENT}
    assert repr(worker) == "<DeliveryWorker sent=2 retried=0 failed=0 held=0>"


async def test_retry_after_is_honoured_never_sooner() -> None:
    a = MemoryNotifier("a", failures=[NotifyError("a", 429, "rate limited", retry_after=2.0)])
    outbox, worker, clock = setup(a)
    outbox.add_deliveries(deliveries_for(nan_transition(notify="[a]"), 1000.0))

    await worker.run_once()
    [delivery] = outbox.all()
    assert (delivery.status, delivery.next_attempt_at, delivery.attempts) == ("pending", 1002.0, 1)
    clock.now = 1001.999
    assert await worker.run_once() == 0 and a.attempts == 1
    clock.now = 1002.0
    assert await worker.run_once() == 1

    assert len(a.messages) == 1 and outbox.all()[0].status == DeliveryStatus.SENT


async def test_a_rate_limited_channel_holds_its_other_deliveries_too() -> None:
    a = MemoryNotifier("a", failures=[NotifyError("a", 429, "rate limited", retry_after=5.0)])
    outbox, worker, clock = setup(a)
    outbox.add_deliveries(deliveries_for(nan_transition(notify="[a]"), 1000.0))
    await worker.run_once()
    payload = outbox.all()[0].payload
    outbox.add_deliveries([Delivery("other@a", "a", payload, created_at=1001.0, next_attempt_at=1001.0)])
    clock.now = 1001.0

    await worker.run_once()
    assert a.attempts == 1  # not even tried: the channel said wait
    assert outbox.rows["other@a"].next_attempt_at == 1005.0


async def test_other_failures_back_off_exponentially_with_jitter_up_to_a_cap() -> None:
    a = MemoryNotifier("a", failures=[NotifyError("a", 500, "server error")] * 6)
    outbox, worker, clock = setup(a, backoff=Backoff(base=1.0, factor=2.0, cap=8.0, jitter=0.5))
    outbox.add_deliveries(deliveries_for(nan_transition(notify="[a]"), 1000.0))

    waits = []
    for _ in range(6):
        await worker.run_once()
        [d] = outbox.all()
        waits.append(d.next_attempt_at - clock.now)
        clock.now = d.next_attempt_at
    await worker.run_once()

    for wait, nominal in zip(waits, [1, 2, 4, 8, 8, 8], strict=True):
        assert nominal * 0.5 <= wait <= nominal
    assert len(a.messages) == 1 and outbox.all()[0].attempts == 7
    assert outbox.errors[outbox.all()[0].id] == ["channel 'a' failed (HTTP 500): server error"] * 6


def test_backoff_jitter_spreads_retries() -> None:
    rng = random.Random(1)
    delays = {round(Backoff(base=10.0).delay(1, rng), 6) for _ in range(20)}
    assert len(delays) > 10 and all(5.0 <= d <= 10.0 for d in delays)


async def test_a_permanent_failure_is_recorded_with_its_reason_and_not_retried() -> None:
    a = MemoryNotifier("a", failures=[NotifyError("a", 404, "no_service", permanent=True)])
    outbox, worker, clock = setup(a)
    outbox.add_deliveries(deliveries_for(nan_transition(notify="[a]"), 1000.0))

    await worker.run_once()
    clock.now += 1e6
    await worker.run_once()

    [d] = outbox.all()
    assert (d.status, d.last_error, a.attempts) == ("failed", "channel 'a' permanent failure (HTTP 404): no_service", 1)


async def test_a_channel_removed_from_the_config_fails_its_deliveries() -> None:
    outbox, worker, _ = setup(MemoryNotifier("a"))
    outbox.add_deliveries(deliveries_for(nan_transition(notify="[b]"), 1000.0))
    await worker.run_once()
    assert outbox.all()[0].last_error == "channel 'b' is not configured"


async def test_retries_give_up_after_max_age() -> None:
    a = MemoryNotifier("a", failures=[NotifyError("a", 503, "down")] * 100)
    outbox, worker, clock = setup(a, max_age=60.0)
    outbox.add_deliveries(deliveries_for(nan_transition(notify="[a]"), 1000.0))
    while outbox.pending():
        clock.now = max(clock.now, outbox.all()[0].next_attempt_at)
        await worker.run_once()
    [d] = outbox.all()
    assert d.status == DeliveryStatus.FAILED and (d.last_error or "").startswith("gave up after")


async def test_a_claim_whose_worker_died_is_due_again_after_the_lease() -> None:
    outbox, _, _ = setup()
    outbox.add_deliveries(deliveries_for(nan_transition(notify="[a]"), 1000.0))
    [claimed] = outbox.claim_due(1000.0, 10, lease_until=1120.0)  # then the process dies

    assert outbox.claim_due(1119.0, 10, lease_until=1300.0) == []
    [again] = outbox.claim_due(1120.0, 10, lease_until=1300.0)
    assert again.id == claimed.id and again.attempts == 2


async def test_a_notifier_bug_is_retried_not_fatal() -> None:
    class Broken(MemoryNotifier):
        def send(self, message: object) -> None:
            raise KeyError("oops")

    outbox, worker, _ = setup(Broken("a"))
    outbox.add_deliveries(deliveries_for(nan_transition(notify="[a]"), 1000.0))
    await worker.run_once()
    [d] = outbox.all()
    assert d.status == DeliveryStatus.PENDING and "KeyError" in (d.last_error or "")


@pytest.mark.timeout(10)
async def test_run_sends_as_soon_as_it_is_woken_and_stops_cleanly() -> None:
    a = MemoryNotifier("a")
    outbox = MemoryOutbox()
    worker = DeliveryWorker(outbox, {"a": a}, poll_interval=30.0)  # the poll alone would take 30 s
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0)  # run() takes the loop before its first await

    outbox.add_deliveries(deliveries_for(nan_transition(notify="[a]", now=time.time()), time.time()))
    worker.wake()
    await eventually(lambda: a.messages, what="the woken worker's send")
    await worker.drained()
    await worker.stop()
    await asyncio.wait_for(task, timeout=5)

    assert len(a.messages) == 1
    assert [(d.status, d.attempts) for d in outbox.all()] == [(DeliveryStatus.SENT, 1)]


@pytest.mark.timeout(10)
async def test_wake_works_from_another_thread() -> None:
    a = MemoryNotifier("a")
    outbox = MemoryOutbox()
    worker = DeliveryWorker(outbox, {"a": a}, poll_interval=30.0)
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0)
    outbox.add_deliveries(deliveries_for(nan_transition(notify="[a]", now=time.time()), time.time()))
    await asyncio.to_thread(worker.wake)
    await eventually(lambda: a.messages, what="the woken worker's send")
    await worker.stop()
    await task
