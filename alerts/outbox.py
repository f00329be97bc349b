"""The outbox: alert notifications stored with the events, then sent with retries.

The collector turns transitions into ``Delivery`` rows (``deliveries_for``) and
inserts them in the same transaction as the events that caused them, so a crash
never loses an alert. ``DeliveryWorker`` then sends them: one attempt per due
delivery, success recorded, failures retried with capped jittered exponential
backoff — never before a ``Retry-After`` the service asked for — and permanent
failures (a 4xx other than 429) recorded with their reason.

Delivery is at least once: a worker killed after Slack accepted a message but
before ``mark_sent`` committed sends it again once its claim's lease expires. Every
message carries its ``id`` so a receiver can tell.

The worker is asyncio (the collector is): store calls run on the event loop thread
(the collector's SQLite connection lives there); the blocking notifier calls run in
worker threads with ``asyncio.to_thread``.

``await worker.drained()`` waits for a state rather than a while: nothing was due, and
nothing in flight, at the time it returns. Tests use it to show that no duplicate follows.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any, Protocol

from alerts.errors import NotifyError
from alerts.notifiers.base import AlertMessage, Notifier
from alerts.transition import Transition

__all__ = [
    "Backoff",
    "Delivery",
    "DeliveryStatus",
    "DeliveryWorker",
    "OutboxStore",
    "deliveries_for",
]

logger = logging.getLogger(__name__)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SILENCED = "silenced"  # muted by a silence: recorded, never sent


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notification of one transition to one channel.

    ``id`` is deterministic (``<transition id>@<channel>``): inserting the same
    delivery twice must change nothing (``INSERT ... ON CONFLICT DO NOTHING``).
    ``payload`` is ``Transition.to_dict()``, strict-JSON safe.
    """

    id: str
    channel: str
    payload: dict[str, Any]
    created_at: float
    next_attempt_at: float
    attempts: int = 0  # attempts started, this claim included
    status: DeliveryStatus = DeliveryStatus.PENDING
    last_error: str | None = None
    sent_at: float | None = None

    @property
    def transition(self) -> Transition:
        return Transition.from_dict(self.payload)


def deliveries_for(transitions: Iterable[Transition], now: float) -> list[Delivery]:
    """One pending delivery per (transition, notify channel), due at once."""
    return [
        Delivery(id=f"{t.id}@{channel}", channel=channel, payload=t.to_dict(), created_at=now, next_attempt_at=now)
        for t in transitions
        for channel in t.notify
    ]


class OutboxStore(Protocol):
    """Where deliveries live; the collector's store implements it (``alerts.memory_outbox.MemoryOutbox`` in tests)."""

    def add_deliveries(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """Insert new pending deliveries as given; an ``id`` already present is left as it is.

        Returns the deliveries actually inserted.
        """
        ...

    def claim_due(self, now: float, limit: int, lease_until: float) -> list[Delivery]:
        """Up to ``limit`` pending deliveries with ``next_attempt_at <= now``, oldest due first.

        Atomically, for each one returned: ``attempts += 1`` and ``next_attempt_at =
        lease_until`` — so no other worker claims it meanwhile, and a worker that dies
        mid-send leaves it due again when the lease expires. Returned values are the
        updated rows.
        """
        ...

    def mark_sent(self, id: str, now: float) -> None:
        """Status ``sent``, ``sent_at = now``."""
        ...

    def mark_retry(self, id: str, next_attempt_at: float, error: str) -> None:
        """Stays ``pending``; due again at ``next_attempt_at``; ``last_error = error``."""
        ...

    def mark_failed(self, id: str, now: float, error: str) -> None:
        """Status ``failed`` for good, ``last_error = error`` (the reason shown to users)."""
        ...


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with jitter: attempt n waits ~``base * factor**(n-1)``, at most ``cap``."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 300.0
    jitter: float = 0.5  # the delay is drawn from [(1 - jitter) * d, d]

    def delay(self, attempts: int, rng: random.Random) -> float:
        exponent = min(max(attempts - 1, 0), 60)
        delay = min(self.cap, self.base * self.factor**exponent)
        return delay * (1.0 - self.jitter * rng.random())


class DeliveryWorker:
    """Sends due deliveries until stopped.

    >>> worker = DeliveryWorker(store, build_notifiers(ruleset), public_url=settings.dashboard_url)
    >>> task = asyncio.create_task(worker.run())
    >>> store.write(...); worker.wake()     # after committing new deliveries: send now
    >>> await worker.drained()              # nothing due or in flight any more
    >>> await worker.stop()
    """

    def __init__(
        self,
        store: OutboxStore,
        notifiers: Mapping[str, Notifier],
        *,
        public_url: str | None = None,
        clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
        batch_size: int = 50,
        poll_interval: float = 0.5,
        lease: float = 120.0,
        max_age: float = 86_400.0,
        rng: random.Random | None = None,
        on_attempt: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.store = store
        self.on_attempt = on_attempt  # (channel, delivered): e.g. the exporter's sent/failed counters
        self.notifiers = dict(notifiers)
        self.public_url = public_url
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.lease = lease
        self.max_age = max_age
        self.rng = rng or random.Random()
        self.sent = self.retried = self.failed = 0
        self._hold: dict[str, float] = {}  # channel → not before (its Retry-After)
        self._channel_locks: dict[str, asyncio.Lock] = {}  # one channel's sends stay in order
        self._submitted: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._stopping = False
        self._running = False
        self._passes = 0  # passes run() has started
        self._drain_waiters: list[tuple[int, asyncio.Future[float]]] = []  # (first pass that counts, waiter)

    # ------------------------------------------------------------- lifecycle

    async def run(self) -> None:
        """Claim and send until ``stop()``; a pass starts at once on ``wake()``."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._running = True
        try:
            while not self._stopping:
                self._wakeup.clear()
                self._passes += 1
                started = self.clock()
                handled = await self.run_once()
                if handled == 0 and not self._submitted:
                    self._settle_drained(started)
                if handled >= self.batch_size or self._stopping or (handled and self._drain_waiters):
                    continue  # more may be due right now (or drained() waits for a pass to find none)
                try:
                    await asyncio.wait_for(self._wakeup.wait(), timeout=self.poll_interval)
                except TimeoutError:
                    pass
        finally:
            self._running = False
            for _, waiter in self._drain_waiters:
                if not waiter.done():
                    waiter.set_exception(RuntimeError("the delivery worker stopped before it drained"))
            self._drain_waiters.clear()
            if self._submitted:  # fast-path sends finish before their notifiers close
                await asyncio.gather(*self._submitted, return_exceptions=True)
            for notifier in self.notifiers.values():
                close = getattr(notifier, "close", None)
                if callable(close):
                    close()  # e.g. the webhook notifier's HTTP connection pool

    async def stop(self) -> None:
        """Finish the pass in progress (no send is abandoned halfway), then return from ``run``."""
        self._stopping = True
        self.wake()
        if self._submitted:
            await asyncio.gather(*self._submitted, return_exceptions=True)

    def submit(self, deliveries: Sequence[Delivery]) -> None:
        """Send these now, without a claim: the fast path right after the commit that created them.

        They must already be leased (``attempts`` 1, ``next_attempt_at`` past now) in the
        store, so if this process dies before sending, ``claim_due`` picks them up when
        the lease expires. Safe from any thread.
        """
        loop = self._loop
        if not deliveries or loop is None or loop.is_closed() or self._stopping:
            return  # the lease expires and a pass claims them
        loop.call_soon_threadsafe(self._start_sending, list(deliveries))

    def _start_sending(self, deliveries: list[Delivery]) -> None:
        if self._stopping:
            return  # stop() came first: the lease expires and the next run claims them
        by_channel: dict[str, list[Delivery]] = {}
        for delivery in deliveries:
            by_channel.setdefault(delivery.channel, []).append(delivery)
        for channel, items in by_channel.items():
            task = asyncio.get_running_loop().create_task(self._send_channel(channel, items))
            self._submitted.add(task)
            task.add_done_callback(self._submitted_done)

    def _submitted_done(self, task: asyncio.Task[None]) -> None:
        self._submitted.discard(task)
        if self._drain_waiters and not self._submitted:
            self.wake()  # a pass now can find the worker drained

    def wake(self) -> None:
        """Start a pass now (new deliveries were committed). Safe from any thread."""
        loop, event = self._loop, self._wakeup
        if loop is None or event is None or loop.is_closed():
            return
        try:
            if asyncio.get_running_loop() is loop:
                event.set()
                return
        except RuntimeError:
            pass
        loop.call_soon_threadsafe(event.set)

    async def drained(self) -> float:
        """Wait until nothing is due and nothing is in flight; return the clock time that holds for.

        Drained means a pass that started after this call claimed nothing, and no
        submitted send was under way when it ended: every delivery due at the returned
        time has had its attempt, with the outcome recorded in the store. A delivery
        whose retry is due later is still pending then (check the store for that). Wakes
        the worker instead of waiting for its poll. Safe from any thread or event loop
        while ``run()`` runs; raises ``RuntimeError`` if it is not running or stops first.

        >>> await asyncio.wait_for(worker.drained(), timeout=30)
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            raise RuntimeError("the delivery worker is not running")
        if asyncio.get_running_loop() is loop:
            return await self._wait_drained()
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._wait_drained(), loop))

    async def _wait_drained(self) -> float:
        if not self._running:
            raise RuntimeError("the delivery worker is not running")
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._drain_waiters.append((self._passes + 1, waiter))  # the pass under way may predate the call
        self.wake()
        return await waiter

    def _settle_drained(self, at: float) -> None:
        waiting = []
        for first_pass, waiter in self._drain_waiters:
            if waiter.done():
                continue  # cancelled: its caller gave up
            if self._passes >= first_pass:
                waiter.set_result(at)
            else:
                waiting.append((first_pass, waiter))
        self._drain_waiters = waiting

    # ---------------------------------------------------------------- a pass

    async def run_once(self) -> int:
        """Claim what is due and attempt each; returns how many were handled."""
        now = self.clock()
        # on a thread: the store may be busy committing, and submitted sends go on meanwhile
        claimed = await asyncio.to_thread(self.store.claim_due, now, self.batch_size, now + self.lease)
        if not claimed:
            return 0
        by_channel: dict[str, list[Delivery]] = {}
        for delivery in claimed:
            by_channel.setdefault(delivery.channel, []).append(delivery)
        # channels in parallel; one channel's deliveries in order (firing before resolved)
        await asyncio.gather(*(self._send_channel(channel, items) for channel, items in by_channel.items()))
        return len(claimed)

    async def _send_channel(self, channel: str, deliveries: list[Delivery]) -> None:
        """Send in order under the channel's lock; record the outcomes in the store after it.

        Recording waits for the store (it may be committing), so it happens off the event
        loop and outside the lock: the next alert's send never waits for it.
        """
        marks: list[Callable[[], None]] = []
        async with self._channel_locks.setdefault(channel, asyncio.Lock()):
            for delivery in deliveries:
                await self._attempt(channel, delivery, marks)
        if marks:
            await asyncio.to_thread(_run_all, marks)

    async def _attempt(self, channel: str, delivery: Delivery, marks: list[Callable[[], None]]) -> None:
        notifier = self.notifiers.get(channel)
        if notifier is None:
            self._fail(delivery, f"channel {channel!r} is not configured", marks)
            return
        hold = self._hold.get(channel)
        if hold is not None and self.clock() < hold:
            marks.append(
                partial(self.store.mark_retry, delivery.id, hold, "waiting: channel rate-limited (Retry-After)")
            )
            return
        try:
            message = AlertMessage.from_transition(delivery.transition, self.public_url)
            await asyncio.to_thread(notifier.send, message)
        except NotifyError as exc:
            self._failed_attempt(channel, delivery, exc, marks)
        except Exception as exc:  # a notifier bug must not stop the worker; retried like an outage
            logger.exception("notifier %s raised on delivery %s", channel, delivery.id)
            self._report(channel, False)
            delay = self.backoff.delay(delivery.attempts, self.rng)
            self._retry(delivery, self.clock() + delay, repr(exc)[:300], marks)
        else:
            marks.append(partial(self.store.mark_sent, delivery.id, self.clock()))
            self.sent += 1
            self._report(channel, True)
            logger.info("alert %s delivered to %s (attempt %d)", delivery.id, channel, delivery.attempts)

    def _report(self, channel: str, delivered: bool) -> None:
        if self.on_attempt is not None:
            try:
                self.on_attempt(channel, delivered)
            except Exception:  # a metrics hook must never stop deliveries
                logger.exception("delivery attempt hook failed")

    def _failed_attempt(
        self, channel: str, delivery: Delivery, exc: NotifyError, marks: list[Callable[[], None]]
    ) -> None:
        self._report(channel, False)
        now = self.clock()  # read after the response: Retry-After counts from when it arrived
        error = str(exc)
        if exc.permanent:
            self._fail(delivery, error, marks)
        elif now - delivery.created_at >= self.max_age:
            self._fail(delivery, f"gave up after {delivery.attempts} attempts: {error}", marks)
        elif exc.retry_after is not None:
            not_before = now + exc.retry_after
            self._hold[channel] = max(self._hold.get(channel, 0.0), not_before)
            self._retry(delivery, not_before, error, marks)
        else:
            self._retry(delivery, now + self.backoff.delay(delivery.attempts, self.rng), error, marks)

    def _retry(self, delivery: Delivery, at: float, error: str, marks: list[Callable[[], None]]) -> None:
        marks.append(partial(self.store.mark_retry, delivery.id, at, error))
        self.retried += 1
        logger.warning("alert %s to %s: %s; retrying at %.3f", delivery.id, delivery.channel, error, at)

    def _fail(self, delivery: Delivery, error: str, marks: list[Callable[[], None]]) -> None:
        marks.append(partial(self.store.mark_failed, delivery.id, self.clock(), error))
        self.failed += 1
        logger.error("alert %s to %s failed for good: %s", delivery.id, delivery.channel, error)

    def __repr__(self) -> str:
        return f"<DeliveryWorker sent={self.sent} retried={self.retried} failed={self.failed} held={len(self._hold)}>"


def _run_all(calls: Sequence[Callable[[], None]]) -> None:
    for call in calls:
        call()
