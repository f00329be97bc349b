"""The delivery fast path: ``submit`` sends deliveries the commit stored already leased.

No claim is involved: the lease only matters if this process dies first, when
``claim_due`` picks the delivery up after it expires. The clock stands still at 1000,
so the running worker's own passes never find these deliveries due.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest

from alerts.engine import Transition
from alerts.errors import NotifyError
from alerts.memory_outbox import MemoryOutbox
from alerts.notifiers.base import AlertMessage
from alerts.outbox import Backoff, Delivery, DeliveryStatus, DeliveryWorker, deliveries_for
from tests.helpers import eventually

NOW = 1000.0
LEASE = 120.0

pytestmark = pytest.mark.timeout(20)


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Channel:
    """A notifier that records the ids it delivered; told to, it takes its time on one or fails."""

    def __init__(
        self, name: str = "a", *, slow: dict[str, float] | None = None, failures: list[NotifyError] | None = None
    ) -> None:
        self.name = name
        self.delivered: list[str] = []
        self.attempts = 0
        self.busy = 0
        self.most_busy = 0  # sends at the same time, at most
        self._slow = slow or {}
        self._failures = failures or []
        self._lock = threading.Lock()

    def send(self, message: AlertMessage) -> None:
        with self._lock:
            self.attempts += 1
            self.busy += 1
            self.most_busy = max(self.most_busy, self.busy)
        try:
            time.sleep(self._slow.get(message.id, 0.0))  # makes a send that overtakes another visible
            with self._lock:
                if self._failures:
                    raise self._failures.pop(0)
                self.delivered.append(message.id)
        finally:
            with self._lock:
                self.busy -= 1


def transition(state: str = "firing", seq: int = 0) -> Transition:
    return Transition(
        rule="nan",
        run_id="run-1",
        state=state,  # type: ignore[arg-type]
        kind="nonfinite",
        episode=1,
        seq=seq,
        at=NOW,
        severity="critical",
        notify=("a",),
        title="loss is NaN" if state == "firing" else "loss is finite again",
    )


def stored_leased(outbox: MemoryOutbox, *transitions: Transition) -> list[Delivery]:
    """What the collector's commit does on the fast path: store the deliveries already leased."""
    leased = [replace(d, attempts=1, next_attempt_at=NOW + LEASE) for d in deliveries_for(transitions, NOW)]
    return outbox.add_deliveries(leased)


StartWorker = Callable[..., Awaitable[tuple[MemoryOutbox, DeliveryWorker, Clock]]]


@pytest.fixture
async def start_worker() -> AsyncIterator[StartWorker]:
    """Runs ``DeliveryWorker.run()`` as a task on the test's loop; stops it afterwards."""
    running: list[tuple[DeliveryWorker, asyncio.Task[None]]] = []

    async def start(*channels: Channel, **kw: Any) -> tuple[MemoryOutbox, DeliveryWorker, Clock]:
        outbox, clock = MemoryOutbox(), Clock()
        worker = DeliveryWorker(
            outbox, {c.name: c for c in channels}, clock=clock, poll_interval=30.0, rng=random.Random(7), **kw
        )
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(0)  # run() takes the loop before its first await
        running.append((worker, task))
        return outbox, worker, clock

    yield start
    for worker, task in running:
        await worker.stop()
        await asyncio.wait_for(task, timeout=5)


async def test_a_submitted_delivery_is_sent_at_once_though_no_claim_would_return_it(start_worker: StartWorker) -> None:
    channel, attempts = Channel(), []
    outbox, worker, _ = await start_worker(channel, on_attempt=lambda name, ok: attempts.append((name, ok)))
    [delivery] = stored_leased(outbox, transition())
    assert outbox.claim_due(NOW, 10, NOW + LEASE) == []  # leased: not due until 1120

    worker.submit([delivery])
    await eventually(lambda: outbox.rows[delivery.id].status == DeliveryStatus.SENT, what="the delivery marked sent")

    assert channel.delivered == ["nan|run-1#1.0"]
    row = outbox.rows[delivery.id]
    assert (row.attempts, row.sent_at, row.last_error) == (1, NOW, None)  # attempts 1: never claimed
    assert attempts == [("a", True)]


async def test_submit_is_safe_from_another_thread(start_worker: StartWorker) -> None:
    channel = Channel()
    outbox, worker, _ = await start_worker(channel)
    [delivery] = stored_leased(outbox, transition())

    await asyncio.to_thread(worker.submit, [delivery])  # as the collector's store thread does after a commit

    await eventually(lambda: outbox.rows[delivery.id].status == DeliveryStatus.SENT, what="the delivery marked sent")
    assert channel.delivered == ["nan|run-1#1.0"]


async def test_one_channels_submitted_deliveries_are_sent_one_at_a_time_in_submission_order(
    start_worker: StartWorker,
) -> None:
    channel = Channel(slow={"nan|run-1#1.0": 0.2})  # the firing alert's send is slow: resolved must not overtake it
    outbox, worker, _ = await start_worker(channel)
    firing, resolved = stored_leased(outbox, transition("firing", 0), transition("resolved", 1))

    worker.submit([firing])  # two commits, two submits
    worker.submit([resolved])
    await eventually(lambda: not outbox.pending(), what="both deliveries recorded")

    assert channel.delivered == ["nan|run-1#1.0", "nan|run-1#1.1"]
    assert channel.most_busy == 1
    assert {d.status for d in outbox.all()} == {DeliveryStatus.SENT}


async def test_a_failed_attempt_is_recorded_for_a_retry_with_its_error_and_reported(start_worker: StartWorker) -> None:
    channel, attempts = Channel(failures=[NotifyError("a", 503, "unavailable")]), []
    outbox, worker, _ = await start_worker(
        channel,
        backoff=Backoff(base=10.0, jitter=0.0),
        on_attempt=lambda name, ok: attempts.append((name, ok)),
    )
    [delivery] = stored_leased(outbox, transition())

    worker.submit([delivery])
    await eventually(lambda: outbox.rows[delivery.id].last_error is not None, what="the failure recorded")

    row = outbox.rows[delivery.id]
    error = "channel 'a' failed (HTTP 503): unavailable"
    assert (row.status, row.next_attempt_at, row.last_error) == (DeliveryStatus.PENDING, NOW + 10.0, error)
    assert outbox.errors[delivery.id] == [error]
    assert attempts == [("a", False)]
    assert channel.delivered == [] and worker.retried == 1


async def test_a_permanent_failure_of_a_submitted_delivery_is_recorded_as_failed(start_worker: StartWorker) -> None:
    channel = Channel(failures=[NotifyError("a", 404, "channel_not_found", permanent=True)])
    outbox, worker, _ = await start_worker(channel)
    [delivery] = stored_leased(outbox, transition())

    worker.submit([delivery])
    await eventually(lambda: outbox.rows[delivery.id].status != DeliveryStatus.PENDING, what="the outcome recorded")

    row = outbox.rows[delivery.id]
    assert (row.status, row.last_error) == (
        DeliveryStatus.FAILED,
        "channel 'a' permanent failure (HTTP 404): channel_not_found",
    )


async def test_submit_after_stop_sends_nothing_and_the_lease_expiry_hands_it_to_a_claim() -> None:
    channel, clock, outbox = Channel(), Clock(), MemoryOutbox()
    worker = DeliveryWorker(outbox, {"a": channel}, clock=clock, poll_interval=30.0)
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0)
    await worker.stop()
    await asyncio.wait_for(task, timeout=5)
    [delivery] = stored_leased(outbox, transition())

    worker.submit([delivery])
    await asyncio.sleep(0)  # anything submit scheduled on the loop runs now...
    await worker.stop()  # ...and stop waits for submitted sends

    assert channel.attempts == 0
    row = outbox.rows[delivery.id]
    assert (row.status, row.attempts, row.next_attempt_at) == (DeliveryStatus.PENDING, 1, NOW + LEASE)

    clock.now = NOW + LEASE
    assert await worker.run_once() == 1
    assert channel.delivered == ["nan|run-1#1.0"] and outbox.rows[delivery.id].attempts == 2


async def test_submit_before_run_sends_nothing() -> None:
    channel, outbox = Channel(), MemoryOutbox()
    worker = DeliveryWorker(outbox, {"a": channel}, clock=Clock(), poll_interval=30.0)
    [delivery] = stored_leased(outbox, transition())

    worker.submit([delivery])  # no loop yet: nothing to send it on
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0)
    await worker.stop()  # waits for any submitted send
    await asyncio.wait_for(task, timeout=5)

    assert channel.attempts == 0
    assert outbox.rows[delivery.id].status == DeliveryStatus.PENDING


async def test_stop_lets_a_submitted_send_finish_before_the_notifiers_close(start_worker: StartWorker) -> None:
    events: list[str] = []

    class Closing(Channel):
        def send(self, message: AlertMessage) -> None:
            events.append("send-start")
            super().send(message)
            events.append("send-end")

        def close(self) -> None:
            events.append("close")

    channel = Closing(slow={"nan|run-1#1.0": 0.3})
    outbox, worker, _ = await start_worker(channel)
    [delivery] = stored_leased(outbox, transition())

    worker.submit([delivery])
    await eventually(lambda: "send-start" in events, what="the send under way")
    await worker.stop()
    await eventually(lambda: "close" in events, what="the notifiers closed")

    assert events == ["send-start", "send-end", "close"]
    assert outbox.rows[delivery.id].status == DeliveryStatus.SENT


# ------------------------------------------------------------ drained(): a state to wait for


class Gated(Channel):
    """A channel whose sends wait until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()  # a send is waiting at the gate
        self.gate = threading.Event()

    def send(self, message: AlertMessage) -> None:
        self.arrived.set()
        assert self.gate.wait(10), "the test never opened the gate"
        super().send(message)


async def test_drained_waits_for_a_submitted_send_to_be_recorded(start_worker: StartWorker) -> None:
    channel = Channel(slow={"nan|run-1#1.0": 0.3})  # still sending when drained() is called
    outbox, worker, _ = await start_worker(channel)
    [delivery] = stored_leased(outbox, transition())
    worker.submit([delivery])
    await eventually(lambda: channel.busy, what="the send under way")

    assert await worker.drained() == NOW  # nothing was due at the (frozen) clock's time

    row = outbox.rows[delivery.id]
    assert (row.status, row.attempts) == (DeliveryStatus.SENT, 1)
    assert channel.delivered == ["nan|run-1#1.0"]


async def test_drained_wakes_the_worker_to_send_what_is_due_and_returns_after_it(start_worker: StartWorker) -> None:
    channel = Channel()
    outbox, worker, _ = await start_worker(channel)  # polls every 30 s: only a wake starts a pass
    outbox.add_deliveries(deliveries_for([transition()], NOW))  # due now, and nobody woke the worker

    await asyncio.wait_for(worker.drained(), timeout=10)

    assert [(d.status, d.attempts) for d in outbox.all()] == [(DeliveryStatus.SENT, 1)]
    assert channel.delivered == ["nan|run-1#1.0"]


async def test_drained_leaves_a_retry_that_is_due_later_pending(start_worker: StartWorker) -> None:
    channel = Channel(failures=[NotifyError("a", 503, "unavailable")])
    outbox, worker, clock = await start_worker(channel, backoff=Backoff(base=10.0, jitter=0.0))
    outbox.add_deliveries(deliveries_for([transition()], NOW))

    await worker.drained()
    [row] = outbox.all()
    assert (row.status, row.attempts, row.next_attempt_at) == (DeliveryStatus.PENDING, 1, NOW + 10.0)

    clock.now = NOW + 10.0  # the retry is due: drained() now means it was attempted
    assert await worker.drained() == NOW + 10.0
    assert [(d.status, d.attempts) for d in outbox.all()] == [(DeliveryStatus.SENT, 2)]


async def test_drained_works_from_another_thread_and_its_event_loop(start_worker: StartWorker) -> None:
    channel = Channel()
    outbox, worker, _ = await start_worker(channel)
    outbox.add_deliveries(deliveries_for([transition()], NOW))

    at = await asyncio.to_thread(asyncio.run, worker.drained())  # as a test thread beside the service does

    assert at == NOW and outbox.all()[0].status == DeliveryStatus.SENT


async def test_drained_raises_when_the_worker_is_not_running_or_stops_first() -> None:
    channel, outbox = Gated(), MemoryOutbox()
    worker = DeliveryWorker(outbox, {"a": channel}, clock=Clock(), poll_interval=30.0)
    with pytest.raises(RuntimeError, match="not running"):
        await worker.drained()

    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0)
    worker.submit(stored_leased(outbox, transition()))
    await eventually(channel.arrived.is_set, what="the send under way")  # held at the gate: never drained
    waiting = asyncio.create_task(worker.drained())
    await asyncio.sleep(0)  # drained() registers before the worker is told to stop
    stopping = asyncio.create_task(worker.stop())
    with pytest.raises(RuntimeError, match="stopped before it drained"):
        await asyncio.wait_for(waiting, timeout=10)
    channel.gate.set()
    await asyncio.wait_for(stopping, timeout=10)
    await asyncio.wait_for(task, timeout=10)

    assert outbox.all()[0].status == DeliveryStatus.SENT  # stop() still let the send finish
