"""The background sender: in-memory queue → pipelined XADDs, disk spool when Redis is away.

The training thread only appends to a bounded deque (``Sender.put``): no lock, no seq, so a
signal handler or an exception landing anywhere in it leaves nothing half done. The thread
stamps each writer's seqs when it takes the queue (under the lock that every swap of the
queue holds, so seqs follow queue order and never have a gap). One thread sends
whatever accumulated while the previous send was in flight, so an idle job gets low
latency and a busy one gets big batches. Sent entries stay *unconfirmed* until the
collector's committed-seq watermark for this writer passes them (``_unconfirmed.py``);
after a reconnect they are sent again (the collector's writes are idempotent, so that is
harmless). When Redis is unreachable, or the queue bound is reached, batches go to the
spool on disk and are replayed in seq order, before newer data. Nothing is dropped,
nothing raises into the caller, and the caller never waits on the network.

Lifecycle: ACTIVE → DRAINING (``close``) → CLOSED.
"""

from __future__ import annotations

import encodings.idna  # noqa: F401 - imported lazily by getaddrinfo otherwise: a fork mid-import leaves the child without it
import itertools
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from enum import Enum
from queue import Empty, SimpleQueue
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ._hooks import sigterm_deferred
from ._redis_connect import connect as redis_connect
from ._spool import Segment, Spool
from ._unconfirmed import SentEntry, Unconfirmed, committed_seqs
from .events import MAX_EVENTS_PER_ENTRY, Keys, encode_body, entry_fields, shard_for

logger = logging.getLogger(__name__)

_TRANSPORT_ERRORS = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.BusyLoadingError,
    redis.ResponseError,
    redis.exceptions.RedisClusterException,  # a cluster unreachable or re-sharding
    OSError,
)
_CONFIRM_POLL = 0.2
_SPILL_POLL = 0.1


class State(Enum):
    ACTIVE = "active"
    DRAINING = "draining"
    CLOSED = "closed"


def connect(url: str) -> redis.Redis:
    """A client that fails fast and never retries behind our back (we replay ourselves).

    TLS, ACL credentials and cluster mode come from the URL and ``RUNWATCH_REDIS_*`` (``_redis_connect``).
    """
    return redis_connect(
        url, socket_connect_timeout=2.0, socket_timeout=10.0, retry=Retry(NoBackoff(), 0), health_check_interval=0
    )


class Sender:
    """Moves one writer's events to Redis without ever blocking or failing the caller."""

    def __init__(
        self,
        *,
        run_id: str,
        writer: str,
        redis_url: str,
        keys: Keys,
        shards: int,
        spool: Spool,
        max_queue: int = 10_000,
        max_unconfirmed_bytes: int = 64 << 20,
        heartbeat: Callable[[], None] | None = None,
        heartbeat_interval: float = 10.0,
        confirm_timeout: float = 2.0,
        adopt_spool: bool = True,
    ) -> None:
        self.run_id = run_id
        self.writer = writer
        self._redis_url = redis_url
        self._keys = keys
        self._shards = shards
        self._spool = spool
        self._max_queue = max_queue
        self._heartbeat = heartbeat
        self._heartbeat_interval = heartbeat_interval
        self._confirm_timeout = confirm_timeout
        self._adopt_spool = adopt_spool

        self._queue: deque[list[Any]] = deque()
        self._lock = threading.Lock()  # guards queue swaps (and the seqs they stamp) and spool writes
        self._seqs = itertools.count()
        # Wakes the thread. Not a threading.Event: its set() takes a lock, and a SIGTERM handler that
        # ends the run while the interrupted training thread holds it would wait for ever.
        # SimpleQueue.put is reentrant (documented safe in signal handlers).
        self._wakeups: SimpleQueue[None] = SimpleQueue()
        self._idle = False
        self._state = State.ACTIVE
        self._client: redis.Redis | None = None
        self._connected = False
        self._bad_url_said = False
        self._spooled: deque[Segment] = deque()  # not yet sent, oldest first
        self._unconfirmed = Unconfirmed(spool, max_unconfirmed_bytes)
        self._in_flight = 0
        self._thread: threading.Thread | None = None
        self._backoff = 0.0
        self._next_heartbeat = time.monotonic() + heartbeat_interval
        self._next_confirm_poll = 0.0
        # counters, for __repr__ and tests
        self.sent_entries = 0
        self.spilled_entries = 0
        self.replayed_entries = 0
        self.transport_errors = 0

    def __repr__(self) -> str:
        return (
            f"<Sender writer={self.writer} state={self._state.value} queued={len(self._queue)} "
            f"spooled={len(self._spooled)} unconfirmed={len(self._unconfirmed)} sent={self.sent_entries} "
            f"spilled={self.spilled_entries} errors={self.transport_errors}>"
        )

    # ------------------------------------------------------------- caller side

    def start(self) -> None:
        self._spool.try_lock(self.writer)
        self._thread = threading.Thread(target=self._loop, name=f"runwatch-sender-{self.writer}", daemon=True)
        self._thread.start()

    def put(self, event: list[Any]) -> None:
        """Queue one ``[seq, ts, kind, payload]`` event. Never blocks on the network.

        A seq of ``None`` becomes this writer's next seq when the event leaves the queue; an
        event put with a seq keeps it (its caller orders them).
        """
        queue = self._queue
        queue.append(event)
        if self._idle:
            self._idle = False
            self._wakeups.put_nowait(None)
        if len(queue) > self._max_queue:
            self._spill_queue()

    def pending(self) -> int:
        """Events and entries not yet handed to Redis."""
        return len(self._queue) + len(self._spooled) + self._in_flight

    def unconfirmed(self) -> int:
        return len(self._unconfirmed)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far was accepted by Redis; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._wakeups.put_nowait(None)
        while self.pending():
            if self._thread is None or not self._thread.is_alive():
                return False
            if deadline is not None and time.monotonic() >= deadline:
                return False
            self._wakeups.put_nowait(None)
            time.sleep(0.002)
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Drain: send what is queued, wait briefly for confirmation, spool the rest.

        A SIGTERM meanwhile waits for the drain (its handler would need the lock held here).
        """
        if self._state is not State.ACTIVE:
            return
        with sigterm_deferred():
            self._state = State.DRAINING
            self._wakeups.put_nowait(None)
            if self._thread is not None:
                self._thread.join(timeout)
                if self._thread.is_alive():
                    logger.warning("runwatch: sender did not drain in %.0fs; spooling the rest", timeout)
            with self._lock:
                self._persist_everything()
            self._state = State.CLOSED
            self._spool.unlock_all()

    def restart_in_child(self, writer: str) -> None:
        """In a forked child: send as ``writer`` (a new writer of the same run) on a thread of its own.

        It shares nothing with the parent's sender (locks, queue, connection, spool locks, spooled
        and unconfirmed entries stay the parent's), adopts no spools and sends no heartbeats.
        """
        self._spool.forget_locks()
        self._queue = deque()
        self._lock = threading.Lock()
        self._seqs = itertools.count()
        self._wakeups = SimpleQueue()
        self._thread = None
        self._client = None
        self._connected = False
        self._spooled.clear()
        self._unconfirmed.clear()
        self.writer = writer
        self._adopt_spool = False
        self._heartbeat = None
        self._state = State.ACTIVE
        self.start()

    # ------------------------------------------------------------- sender thread

    def _loop(self) -> None:
        if self._adopt_spool:
            self._adopt_leftover_spools()
        while True:
            self._maybe_heartbeat()
            batch = self._take()
            draining = self._state is State.DRAINING
            if not batch and not self._spooled and self._connected:
                if self._unconfirmed:
                    self._poll_confirmations(force=draining)
                if draining:
                    self._await_confirmations()
                    return
                self._sleep_until_work()
                continue
            try:
                self._ensure_connected()
                self._replay_spooled()
                if batch:
                    self._send(batch)
                    batch = []
                self._backoff = 0.0
            except Exception as exc:  # noqa: BLE001 - the thread outlives any failure; what it holds is spooled
                if not isinstance(exc, _TRANSPORT_ERRORS):
                    logger.error(
                        "runwatch: unexpected error while sending (%r); spooling and retrying", exc, exc_info=exc
                    )
                self._on_transport_error(exc)
                if batch:
                    with self._lock:
                        self._spill(batch)
                    batch = []
                if draining:
                    return
                self._wait_backoff()
            finally:
                self._in_flight = 0

    def _take(self) -> list[list[Any]]:
        with self._lock:
            self._in_flight = len(self._queue)
            queue, self._queue = self._queue, deque()
            self._stamp(queue)
        return list(queue)

    def _stamp(self, events: Iterable[list[Any]]) -> None:
        """Give events put without a seq this writer's next seqs, in queue order (caller holds ``_lock``)."""
        seqs = self._seqs
        for event in events:
            if event[0] is None:
                event[0] = next(seqs)

    def _sleep_until_work(self) -> None:
        now = time.monotonic()
        wait = self._next_heartbeat - now
        if self._unconfirmed:
            wait = min(wait, _CONFIRM_POLL)
        self._idle = True
        if not self._queue:
            self._wait_for_wakeup(wait)
        self._idle = False
        self._forget_wakeups()

    def _wait_for_wakeup(self, timeout: float) -> None:
        try:
            self._wakeups.get(timeout=max(0.0, timeout))
        except Empty:
            pass

    def _forget_wakeups(self) -> None:
        """Wake-ups that arrived while the thread was busy: it is about to look at the queue anyway."""
        try:
            while True:
                self._wakeups.get_nowait()
        except Empty:
            pass

    def _maybe_heartbeat(self) -> None:
        if self._heartbeat is not None and self._state is State.ACTIVE and time.monotonic() >= self._next_heartbeat:
            self._next_heartbeat = time.monotonic() + self._heartbeat_interval
            self._heartbeat()

    def _ensure_connected(self) -> None:
        if self._connected and self._client is not None:
            return
        if self._client is None:
            try:
                self._client = connect(self._redis_url)
            except ValueError as exc:  # a URL nobody can connect to: said once, then spooled like an outage
                if not self._bad_url_said:
                    self._bad_url_said = True
                    logger.warning(
                        "runwatch: cannot use RUNWATCH_REDIS_URL (%s); spooling to %s", exc, self._spool.directory
                    )
                raise redis.ConnectionError(f"invalid Redis URL: {exc}") from exc
        self._client.ping()
        published = self._client.get(self._keys.shards)
        if published is not None and self.sent_entries == 0 and not self._unconfirmed:
            self._shards = max(1, int(published))
        self._connected = True
        # Redis may have restarted without our entries: send everything unconfirmed again.
        if self._unconfirmed:
            pipe = self._client.pipeline(transaction=False)
            for sent in self._unconfirmed:
                self._xadd(pipe, sent.run_id, sent.load())
            pipe.execute()
            self.replayed_entries += len(self._unconfirmed)

    def _replay_spooled(self) -> None:
        assert self._client is not None
        while self._spooled:
            segment = self._spooled[0]
            run_id, body = segment.read()
            pipe = self._client.pipeline(transaction=False)
            self._xadd(pipe, run_id, body)
            pipe.execute()
            self._spooled.popleft()
            self.replayed_entries += 1
            self._remember(SentEntry(run_id, segment.writer, segment.first_seq, segment.last_seq, None, segment))

    def _send(self, batch: list[list[Any]]) -> None:
        assert self._client is not None
        pipe = self._client.pipeline(transaction=False)
        entries = []
        for start in range(0, len(batch), MAX_EVENTS_PER_ENTRY):
            chunk = batch[start : start + MAX_EVENTS_PER_ENTRY]
            body = encode_body(self.writer, chunk)
            self._xadd(pipe, self.run_id, body)
            entries.append(SentEntry(self.run_id, self.writer, chunk[0][0], chunk[-1][0], body))
        try:
            pipe.execute()
        except _TRANSPORT_ERRORS:
            # Unknown how much arrived: keep all of it (a duplicate is harmless, a loss is not).
            with self._lock:
                for sent in entries:
                    assert sent.body is not None
                    self._spool_entry(sent.run_id, sent.writer, sent.first_seq, sent.last_seq, sent.body)
            raise
        self.sent_entries += len(entries)
        for sent in entries:
            self._remember(sent)
        self._poll_confirmations()

    def _xadd(self, pipe: Any, run_id: str, body: bytes) -> None:
        stream = self._keys.stream(shard_for(run_id, self._shards))
        pipe.xadd(stream, entry_fields(run_id, body))

    def _remember(self, sent: SentEntry) -> None:
        self._unconfirmed.add(sent)
        while self._unconfirmed.over_budget():
            with self._lock:
                if not self._unconfirmed.move_oldest_to_spool():
                    break

    def _poll_confirmations(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self._unconfirmed or self._client is None or (now < self._next_confirm_poll and not force):
            return
        self._next_confirm_poll = now + _CONFIRM_POLL
        try:
            committed = committed_seqs(self._client, self._keys, self._shards, self._unconfirmed.writers())
        except _TRANSPORT_ERRORS as exc:
            self._on_transport_error(exc)
            return
        self._unconfirmed.confirm(committed)

    def _await_confirmations(self) -> None:
        deadline = time.monotonic() + self._confirm_timeout
        while self._unconfirmed and self._connected and time.monotonic() < deadline:
            time.sleep(0.05)
            self._poll_confirmations(force=True)

    def _on_transport_error(self, exc: BaseException) -> None:
        self.transport_errors += 1
        if self._connected:
            logger.warning("runwatch: Redis unreachable (%s); spooling to %s", exc, self._spool.directory)
        self._connected = False
        if self._client is not None:
            try:
                self._client.close()
            except Exception:  # noqa: BLE001 - the connection is already broken
                pass
            self._client = None

    def _wait_backoff(self) -> None:
        self._backoff = min(2.0, max(0.05, self._backoff * 2))
        deadline = time.monotonic() + self._backoff * random.uniform(0.5, 1.0)
        while self._state is State.ACTIVE:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._wait_for_wakeup(min(remaining, _SPILL_POLL))
            self._forget_wakeups()
            self._maybe_heartbeat()
            if self._queue:
                self._spill_queue()

    # ------------------------------------------------------------- spooling

    def _spill_queue(self) -> None:
        # On the training thread (put() past the bound), a SIGTERM waits for the spill: its
        # handler needs this lock, and the batch being written lives only in this frame.
        with sigterm_deferred(), self._lock:
            queue, self._queue = self._queue, deque()
            if queue:
                self._stamp(queue)
                self._spill(list(queue))

    def _spill(self, batch: list[list[Any]]) -> None:
        """Write events to the spool (caller holds ``_lock``), one segment per entry-sized chunk."""
        for start in range(0, len(batch), MAX_EVENTS_PER_ENTRY * 5):
            chunk = batch[start : start + MAX_EVENTS_PER_ENTRY * 5]
            for part in range(0, len(chunk), MAX_EVENTS_PER_ENTRY):
                events = chunk[part : part + MAX_EVENTS_PER_ENTRY]
                body = encode_body(self.writer, events)
                self._spool_entry(self.run_id, self.writer, events[0][0], events[-1][0], body)

    def _spool_entry(self, run_id: str, writer: str, first: int, last: int, body: bytes) -> None:
        segment = self._spool.write(run_id, writer, first, last, body)
        # keep seq order even when a failed in-flight batch is spooled after newer data
        self._spooled.append(segment)
        if len(self._spooled) > 1 and self._spooled[-2].first_seq > first:
            self._spooled = deque(sorted(self._spooled, key=lambda s: s.first_seq))
        self.spilled_entries += 1

    def _persist_everything(self) -> None:
        """At close (lock held): queued and unconfirmed-in-memory events go to the spool."""
        if self._queue:
            queue, self._queue = self._queue, deque()
            self._stamp(queue)
            self._spill(list(queue))
        self._unconfirmed.move_all_to_spool()

    def _adopt_leftover_spools(self) -> None:
        """Deliver what earlier jobs on this machine left behind (their writer lock must be free)."""
        for writer in self._spool.writers():
            if writer == self.writer or not self._spool.try_lock(writer):
                continue
            self._spooled.extend(self._spool.segments(writer))
        if self._spooled:
            logger.info("runwatch: replaying %d spooled entries left by earlier runs", len(self._spooled))
