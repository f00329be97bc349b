"""The stream consumer: read → decode → commit → ack, exactly once in effect.

One consumer in group ``collectors`` reads every shard stream. It first re-reads its own
pending entries (id ``0``: what it had read but not acknowledged before a crash), then
new ones (``>``). A batch is acknowledged only after the store committed it; the store
is idempotent on ``(run_id, writer, seq)``, so a redelivery changes nothing. Entries
that do not follow the contract, or that keep failing, go to the dead-letter stream
with the reason and are acknowledged in the same MULTI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, FieldT

from emitter.events import GROUP, Batch, ContractError, decode_entry, shard_for

from .backlog import Backlog, Decoded, Entry
from .claims import Claimer
from .deadletter import dead_letter_fields, letter_for
from .redis_connect import is_cluster
from .settings import Settings
from .slots import ack_per_slot, xreadgroup_per_stream
from .store.base import DeadLetter, EntryRejected, Store, WriteResult
from .trim import trim_stream

logger = logging.getLogger(__name__)

_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, RedisClusterException, OSError)
# XREADGROUP's reply without decode_responses; a re-read pending entry whose payload was trimmed has no fields
_GroupReply = list[tuple[bytes | str, list[tuple[bytes | str, dict[bytes, bytes] | None]]]] | None
T = TypeVar("T")


@dataclass(slots=True)
class CommitReport:
    """What one commit did; listeners (alerts, exporter, live views) receive it."""

    result: WriteResult
    entries: int
    seconds: float
    events_by_stream: dict[str, int] = field(default_factory=dict)
    dead: list[DeadLetter] = field(default_factory=list)


Listener = Callable[[CommitReport], None]
_Ack = tuple[list[Entry], list[tuple[Entry, DeadLetter]], dict[tuple[str, str], int]]


class Consumer:
    """Persists every shard stream into the store.

    >>> consumer = Consumer(settings, redis=aioredis.from_url(url), store=SQLiteStore(path))
    >>> await consumer.run(stop_event)

    ``listeners`` are called after each commit, on the store thread (they must be thread-safe
    and quick). Decoding runs on the store thread too: one Python thread does the CPU work,
    the event loop only moves bytes, so the two never fight over the GIL.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        redis: aioredis.Redis,
        store: Store,
        listeners: Sequence[Listener] = (),
        clock: Callable[[], float] = time.time,
        leased: bool = False,
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.store = store
        self.listeners = list(listeners)
        self.clock = clock
        self.keys = settings.keys
        self.streams = self.keys.streams(settings.shards)
        # What this consumer reads: every stream, or (``leased``) only the shards its leases give it,
        # set by ``change_streams`` (see ``collector.leases``).
        self.owned: list[str] = [] if leased else list(self.streams)
        self.name = settings.consumer_name
        self._pipeline = Backlog()  # decoded entries waiting for their commit
        self._changed = asyncio.Condition()
        self._acks: asyncio.Queue[_Ack] = asyncio.Queue(maxsize=2)
        self._reading = 0  # reads in flight
        self._decoding = 0  # reads being decoded: the next chunk waits for them, they may hold a NaN
        self._committing = False
        self._reading_allowed = True
        self._switching = asyncio.Lock()  # a stream change and a reclaim never overlap
        self._cluster = is_cluster(redis)  # no command may span two shards' slots (see slots.py)
        self._backlog = True  # re-read our own pending entries first
        self._claimer = Claimer(redis, self.name, commit=self._persist_and_ack)
        self._entry_points = 1.0  # points per stream entry lately: sizes the reads
        self._store_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="runwatch-store")
        self.redis_available = False
        self.available_since: float | None = None  # when the streams last became readable; None while not
        # counters
        self.consumed = 0
        self.acked = 0
        self.dead = 0
        self.reclaimed = 0
        self.commits = 0
        self.trimmed = 0
        self.failures = 0

    def __repr__(self) -> str:
        return (
            f"<Consumer name={self.name} consumed={self.consumed} acked={self.acked} dead={self.dead} "
            f"reclaimed={self.reclaimed} commits={self.commits} trimmed={self.trimmed}>"
        )

    # ------------------------------------------------------------------ running

    async def run(self, stop: asyncio.Event) -> None:
        """Read, reclaim and trim until ``stop`` is set; survives Redis outages and restarts.

        The reader keeps one or two commits' worth of decoded entries ahead of the store
        (``Backlog``); each commit takes the quietest writers first, so a NaN from a quiet
        run waits for at most the commit in progress, not for a busy run's backlog.
        """
        with contextlib.suppress(*_REDIS_DOWN):  # a fresh Redis has no group yet: not a "vanished" one
            await self.ensure_groups()
        backlog = self._pipeline
        changed = self._changed
        limit = self.settings.max_commit_points

        async def read_ahead() -> None:  # a read is in flight unless two commits' worth are waiting
            async with changed:
                await changed.wait_for(
                    lambda: backlog.points < 2 * limit and self._reading_allowed and bool(self.owned)
                )
                self._reading += 1
            try:
                entries = await self._read()
                if entries:
                    self._decoding += 1
                    try:
                        decoded = await self._in_store(self._decode, entries)  # on the store thread: no GIL tug of war
                    finally:
                        self._decoding -= 1
                    async with changed:
                        backlog.add(decoded)
                        self._entry_points = backlog.points_per_entry
            finally:
                async with changed:
                    self._reading -= 1
                    changed.notify_all()

        # Acknowledging costs a Redis round trip: it overlaps the next commit instead of
        # preceding it, in commit order (watermarks only grow). Bounded: two commits ahead.
        acks = self._acks

        async def commit_next() -> None:
            async with changed:
                await changed.wait_for(lambda: bool(backlog) and not self._decoding)
                batches, dead = backlog.take(limit)
                self._committing = True
                changed.notify_all()
            try:
                await self._commit_chunk(batches, dead, backlog.now, acks=acks)
            finally:
                async with changed:
                    self._committing = False
                    changed.notify_all()
            if not backlog and not self._decoding:  # caught up: the store's housekeeping delays no commit now
                await self._in_store(self.store.idle)

        async def ack_next() -> None:
            ack = await acks.get()
            try:
                await self._ack(*ack)
            except _REDIS_DOWN:
                self._backlog = True  # committed but not acknowledged: re-read our pending entries
                raise
            finally:
                acks.task_done()

        tasks = [
            asyncio.create_task(self._forever(read_ahead, stop, 0.0), name="runwatch-read"),
            asyncio.create_task(self._forever(commit_next, stop, 0.0), name="runwatch-commit"),
            asyncio.create_task(self._forever(ack_next, stop, 0.0), name="runwatch-ack"),
            asyncio.create_task(self._forever(self.reclaim, stop, self.settings.claim_interval), name="runwatch-claim"),
            asyncio.create_task(self._forever(self.maintain, stop, self.settings.trim_interval), name="runwatch-trim"),
        ]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            while not acks.empty():  # committed: acknowledge before leaving (else they are redelivered, harmlessly)
                with contextlib.suppress(*_REDIS_DOWN):
                    await self._ack(*acks.get_nowait())
                acks.task_done()
            self._store_thread.shutdown(wait=True)

    async def _forever(self, work: Callable[[], Any], stop: asyncio.Event, interval: float) -> None:
        backoff = 0.1
        while not stop.is_set():
            try:
                await work()
                backoff = 0.1
                if interval:
                    await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                continue
            except _REDIS_DOWN as exc:
                if self.redis_available:
                    logger.warning("redis unavailable (%s); retrying", exc)
                self._mark_available(False)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("collector task %s failed; retrying", getattr(work, "__name__", work))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def ensure_groups(self) -> None:
        """Create the group on every stream (MKSTREAM), catching only BUSYGROUP."""
        for stream in self.streams:
            try:
                await self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        await self.redis.set(self.keys.shards, self.settings.shards)
        self._mark_available(True)

    def _mark_available(self, available: bool) -> None:
        """Track when the streams became readable: the stall detector measures silence from then."""
        if available and not self.redis_available:
            self.available_since = self.clock()
        elif not available:
            self.available_since = None
        self.redis_available = available

    # ------------------------------------------------------------------ reading

    async def _read(self) -> list[Entry]:
        start = "0" if self._backlog else ">"
        try:
            streams = {stream: start for stream in self.owned}
            block = None if self._backlog else self.settings.block_ms
            if self._cluster:
                try:
                    reply = await xreadgroup_per_stream(
                        self.redis, self.name, streams, count=self._read_count(), block=block
                    )
                except BaseException:
                    # the shards that did answer moved entries to our pending list: re-read it next
                    self._backlog = True
                    raise
                response = cast(_GroupReply, reply)
            else:
                response = cast(
                    _GroupReply,
                    await self.redis.xreadgroup(GROUP, self.name, streams, count=self._read_count(), block=block),  # type: ignore[arg-type]
                )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc) and "no such key" not in str(exc):
                raise
            logger.warning("stream or group vanished (Redis restarted without persistence?); recreating")
            await self.ensure_groups()
            self._backlog = True
            return []
        self._mark_available(True)
        entries: list[Entry] = []
        for stream, items in response or []:
            name = stream.decode() if isinstance(stream, bytes) else stream
            for entry_id, fields in items:
                eid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                entries.append((name, eid, fields or {}))
        if self._backlog and not entries:
            self._backlog = False  # own pending list drained: switch to new entries
        return entries

    def _read_count(self) -> int:
        """Entries per stream for about one commit's worth of points (at most ``read_count``)."""
        per_stream = self.settings.max_commit_points / max(1.0, self._entry_points) / max(1, len(self.owned))
        return max(1, min(self.settings.read_count, int(per_stream) + 1))

    async def reclaim(self) -> int:
        """Take over entries idle past ``claim_idle_ms`` in other (dead) consumers."""
        async with self._switching:
            return await self._claimer.claim(self.owned, self.settings.claim_idle_ms)

    async def change_streams(self, streams: Sequence[str], before_reading: Callable[[], Any] | None = None) -> None:
        """Read ``streams`` from now on (a shard lease was gained or handed back).

        First everything read so far is committed and acknowledged, so a shard handed back
        has nothing of ours in flight; then ``before_reading`` runs on the store thread (the
        alert engine reloads the state the previous owner committed) and every entry still
        pending in a gained stream — a dead owner's — is taken over (XAUTOCLAIM) and committed
        before any new one is read: the shard's events reach the alert engine in stream order.
        """
        async with self._switching:
            async with self._changed:
                self._reading_allowed = False
                self._changed.notify_all()
                await self._changed.wait_for(
                    lambda: not (self._reading or self._decoding or self._committing or self._pipeline)
                )
            await self._acks.join()
            gained = [stream for stream in streams if stream not in self.owned]
            self.owned = list(streams)
            try:
                if before_reading is not None:
                    await self._in_store(before_reading)
                self._claimer.restart(gained)
                await self._claimer.claim(gained, 0, whole=True)
                self._backlog = True  # then our own pending entries, then new ones
            finally:
                async with self._changed:
                    self._reading_allowed = True
                    self._changed.notify_all()

    async def _persist_and_ack(self, entries: list[Entry]) -> None:
        self.reclaimed += len(entries)
        await self._commit(self._decode(entries))

    def _decode(self, entries: list[Entry]) -> Decoded:
        """Split entries into valid batches and dead letters (with the reason)."""
        self.consumed += len(entries)
        now = self.clock()
        decoded = Decoded(now)
        for entry in entries:
            stream, entry_id, fields = entry
            if not fields:
                reason = "entry payload is gone (trimmed)"
                decoded.dead.append((entry, letter_for(stream, entry_id, fields, reason, now)))
                continue
            try:
                decoded.batches.append((entry, decode_entry(fields)))
            except ContractError as exc:
                decoded.dead.append((entry, letter_for(stream, entry_id, fields, exc.reason, now)))
        return decoded

    async def _commit(self, decoded: Decoded) -> None:
        """Commit what one read brought, in chunks of at most ``max_commit_points``, quiet writers first."""
        backlog = Backlog()
        backlog.add(decoded)
        while backlog:
            batches, dead = backlog.take(self.settings.max_commit_points)
            await self._commit_chunk(batches, dead, decoded.now)

    async def _commit_chunk(
        self,
        batches: list[tuple[Entry, Batch]],
        dead: list[tuple[Entry, DeadLetter]],
        now: float,
        *,
        acks: asyncio.Queue[_Ack] | None = None,
    ) -> None:
        """Write in one transaction, then acknowledge (now, or via ``acks``); isolate a poison entry if it fails."""
        entries = len(batches) + len(dead)
        started = time.perf_counter()
        try:
            result = await self._in_store(self._write_and_notify, batches, dead, now, started)
        except Exception as exc:  # noqa: BLE001 - any failure: isolate the poison entry
            logger.warning("commit of %d entries failed (%s); retrying one by one", entries, exc)
            await self._persist_one_by_one(batches, dead, now)
            return
        ack: _Ack = ([e for e, _ in batches], dead, result.watermarks)
        self.commits += 1
        if acks is None:
            await self._ack(*ack)
        else:
            await acks.put(ack)

    def _write_and_notify(
        self, batches: list[tuple[Entry, Batch]], dead: list[tuple[Entry, DeadLetter]], now: float, started: float
    ) -> WriteResult:
        """On the store thread: commit, then tell the listeners (the event loop stays free for I/O)."""
        result = self.store.write([b for _, b in batches], [d for _, d in dead], now)
        report = CommitReport(
            result, len(batches) + len(dead), time.perf_counter() - started, dead=[d for _, d in dead]
        )
        for (stream, _, _), batch in batches:
            report.events_by_stream[stream] = report.events_by_stream.get(stream, 0) + len(batch.events)
        self._notify(report)
        return result

    async def _persist_one_by_one(
        self, batches: list[tuple[Entry, Batch]], dead: list[tuple[Entry, DeadLetter]], now: float
    ) -> None:
        if dead:
            await self._write([], [d for _, d in dead], now)
            await self._ack([], dead, {})
        for entry, batch in batches:
            stream, entry_id, fields = entry
            started = time.perf_counter()
            try:
                result = await self._write([batch], [], now)
            except EntryRejected as refused:  # refused for good: dead-lettered now, never retried
                letter = letter_for(stream, entry_id, fields, refused.reason, now)
                await self._write([], [letter], now)
                await self._ack([], [(entry, letter)], {})
                continue
            except Exception as exc:  # noqa: BLE001 - counted, then dead-lettered past the limit
                self.failures += 1
                attempts = await self._in_store(self.store.record_failure, stream, entry_id)
                logger.error("entry %s of %s failed (attempt %d): %s", entry_id, stream, attempts, exc)
                if attempts >= self.settings.max_deliveries:
                    reason = f"failed {attempts} times: {type(exc).__name__}: {exc}"
                    letter = letter_for(stream, entry_id, fields, reason, now)
                    await self._write([], [letter], now)
                    await self._ack([], [(entry, letter)], {})
                else:
                    self._backlog = True  # it stays pending: read it again soon
                continue
            await self._ack([entry], [], result.watermarks)
            report = CommitReport(result, 1, time.perf_counter() - started, {stream: len(batch.events)})
            self.commits += 1
            self._notify(report)

    async def _write(self, batches: list[Batch], dead: list[DeadLetter], now: float) -> WriteResult:
        return await self._in_store(self.store.write, batches, dead, now)

    async def run_in_store(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn`` on the store's own thread, serialised with the commits."""
        return await self._in_store(fn, *args)

    async def _in_store(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._store_thread, fn, *args)

    async def _ack(
        self,
        stored: Sequence[Entry],
        dead: Sequence[tuple[Entry, DeadLetter]],
        watermarks: dict[tuple[str, str], int],
    ) -> None:
        """Acknowledge after commit: dead letters XADDed and acked in one MULTI, then watermarks."""
        by_stream: dict[str, list[str]] = {}
        for stream, entry_id, _ in stored:
            by_stream.setdefault(stream, []).append(entry_id)
        if self._cluster:
            await self._ack_per_slot(by_stream, dead, watermarks)
            return
        pipe = self.redis.pipeline(transaction=True)
        for (stream, entry_id, _), letter in dead:
            # str keys; str, int, float and bytes values: what XADD takes
            fields = cast(dict[FieldT, EncodableT], dead_letter_fields(letter))
            pipe.xadd(self.keys.dead_letters, fields, maxlen=100_000, approximate=True)
            by_stream.setdefault(stream, []).append(entry_id)
        for stream, ids in by_stream.items():
            pipe.xack(stream, GROUP, *ids)
        ttl = self.settings.watermark_ttl_seconds
        shards = self.settings.shards
        for (run_id, writer), committed in watermarks.items():
            pipe.set(self.keys.committed(shard_for(run_id, shards), run_id, writer), committed, ex=ttl)
        if watermarks:  # wakes writers waiting for their commit (the MLflow API) instead of their polling
            pipe.publish(self.keys.commits, len(watermarks))
        await pipe.execute()
        self.acked += sum(len(ids) for ids in by_stream.values())
        self.dead += len(dead)
        if dead:
            await self._in_store(self.store.clear_failures, [(e[0], e[1]) for e, _ in dead])

    async def _ack_per_slot(
        self,
        by_stream: dict[str, list[str]],
        dead: Sequence[tuple[Entry, DeadLetter]],
        watermarks: dict[tuple[str, str], int],
    ) -> None:
        """``_ack`` on a Redis Cluster: one MULTI per shard's slot (``slots.ack_per_slot``)."""
        letters = [cast(dict[FieldT, EncodableT], dead_letter_fields(letter)) for _, letter in dead]
        for (stream, entry_id, _), _letter in dead:
            by_stream.setdefault(stream, []).append(entry_id)
        shards = self.settings.shards
        marks: dict[str, list[tuple[str, int]]] = {}
        for (run_id, writer), committed in watermarks.items():
            shard = shard_for(run_id, shards)
            marks.setdefault(self.keys.stream(shard), []).append(
                (self.keys.committed(shard, run_id, writer), committed)
            )
        ttl = self.settings.watermark_ttl_seconds
        await ack_per_slot(self.redis, (self.keys.dead_letters, letters), by_stream, marks, ttl)
        if watermarks:
            await self.redis.publish(self.keys.commits, len(watermarks))
        self.acked += sum(len(ids) for ids in by_stream.values())
        self.dead += len(dead)
        if dead:
            await self._in_store(self.store.clear_failures, [(e[0], e[1]) for e, _ in dead])

    def _notify(self, report: CommitReport) -> None:
        for listener in self.listeners:
            try:
                listener(report)
            except Exception:
                logger.exception("commit listener %r failed", listener)

    # ------------------------------------------------------------------ trimming

    async def maintain(self) -> None:
        """Publish the shard count, recreate vanished groups, trim below what is acknowledged."""
        await self.ensure_groups()
        for stream in self.owned:
            self.trimmed += await self.trim(stream)

    async def trim(self, stream: str) -> int:
        """XTRIM MINID to the oldest entry some group still needs (pending or undelivered)."""
        retention_ms = int(self.settings.stream_retention_seconds * 1000)
        return await trim_stream(self.redis, stream, int(self.clock() * 1000), retention_ms)
