"""Shard leases: several collectors divide the shard streams, one owner per shard at a time.

Why: the store is idempotent, so any collector may write any entry; but the alert engine
must see a run's events in stream order (a ``for: 3`` rule counts consecutive points), so
exactly one collector applies a given shard at a time.

How, with nothing but single-key Redis commands (so it works on a Redis Cluster):

- every collector advertises itself in ``{prefix}:collectors`` (a sorted set: member = its
  consumer name, score = when its heartbeat expires) and drops the expired members;
- its fair share is ``shards // live`` (plus one for the first ``shards % live`` names in
  order), so the shares add up to the shard count exactly;
- a shard's lease is the key ``{prefix}:{N}:lease`` (the shard's hash tag, the slot of its
  stream) holding ``name|token``, set with ``SET NX PX`` semantics and renewed every third
  of ``lease_seconds`` by compare-and-PEXPIRE; a collector holding more than its share hands
  back the shards it likes least (rendezvous hashing, so restarts keep the same shards);
- before a lease is released the consumer drains what it read of that shard (committed and
  acknowledged); a new owner first takes over the previous owner's pending entries
  (XAUTOCLAIM) — see ``Consumer.change_streams``;
- one more lease, ``{prefix}:stall-sweep``, elects the one collector that runs the stall
  detector, so a lost run is alerted on once.

Consumer names must be unique among live collectors (the consumer group already needs that:
two processes with one name would share a pending list). So a lease holding our own name is
ours: a collector restarted after a crash takes its shards back at once instead of waiting
for the lease to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .settings import Settings

logger = logging.getLogger(__name__)

_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)

# KEYS[1] lease; ARGV: value (name|token), ttl ms, "name|": free, ours, or our name's (a restart of ours)
_ACQUIRE = """
local v = redis.call('GET', KEYS[1])
if (not v) or v == ARGV[1] or string.sub(v, 1, string.len(ARGV[3])) == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

OnChange = Callable[[list[int]], Awaitable[None]]


def lease_key(prefix: str, shard: int) -> str:
    """A shard's lease, with the shard's hash tag: the same Cluster slot as its stream."""
    return f"{prefix}:{{{shard}}}:lease"


def lease_holder(value: bytes | str | None) -> str | None:
    """The consumer name in a lease's value (``name|token``), None for a free lease."""
    if value is None:
        return None
    text = value.decode() if isinstance(value, bytes) else value
    return text.rsplit("|", 1)[0]


def fair_share(name: str, live: Sequence[str], shards: int) -> int:
    """How many shards ``name`` should own among ``live`` collectors (the shares add up to ``shards``)."""
    members = sorted(set(live) | {name})
    base, extra = divmod(shards, len(members))
    return base + (1 if members.index(name) < extra else 0)


def preference(name: str, shard: int) -> bytes:
    """Rendezvous hash: each collector ranks the shards its own way, the same way every time."""
    return hashlib.blake2b(f"{name}/{shard}".encode(), digest_size=8).digest()


class ShardLeases:
    """This collector's shard leases and its turn at the stall detector.

    >>> leases = ShardLeases(settings, redis, on_change=consumer_switch)
    >>> await leases.run(stop)      # heartbeat, renew, rebalance until stop
    >>> await leases.close()        # after the consumer stopped: hand everything back
    """

    def __init__(
        self,
        settings: Settings,
        redis: aioredis.Redis,
        *,
        on_change: OnChange,
        name: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.shards = settings.shards
        self.prefix = settings.prefix
        self.name = name or settings.consumer_name
        self.value = f"{self.name}|{uuid.uuid4().hex}"
        self.ttl_ms = int(settings.lease_seconds * 1000)
        self.interval = settings.lease_seconds / 3
        self.on_change = on_change
        self.clock = clock
        self.owned: set[int] = set()  # the shard leases held
        self.applied: set[int] = set()  # the shards the consumer reads (held, and switched to)
        self.live: list[str] = []
        self.sweeping = False
        self.sweep_terms = 0  # how many times this collector became the stall detector
        self.rebalances = 0
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    def __repr__(self) -> str:
        return (
            f"<ShardLeases name={self.name} owned={sorted(self.owned)} live={len(self.live)} sweeping={self.sweeping}>"
        )

    @property
    def members_key(self) -> str:
        return f"{self.prefix}:collectors"

    @property
    def sweep_key(self) -> str:
        return f"{self.prefix}:stall-sweep"

    def lease_key(self, shard: int) -> str:
        return lease_key(self.prefix, shard)

    async def run(self, stop: asyncio.Event) -> None:
        """Heartbeat, renew and rebalance every third of the lease until ``stop``; survives Redis outages."""
        while not stop.is_set():
            try:
                await self.step()
            except _REDIS_DOWN as exc:
                logger.warning("shard leases: redis unavailable (%s); retrying", exc)
            except Exception:
                logger.exception("shard leases: step failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)

    async def step(self) -> None:
        """One round: advertise, keep what is still ours, hand back extras, take free shards up to the share."""
        self.live = await self._heartbeat()
        lost = [shard for shard in sorted(self.owned) if not await self._renew_lease(shard)]
        if lost:
            logger.warning("%s lost the lease of shard(s) %s (stalled longer than the lease?)", self.name, lost)
            self.owned -= set(lost)
        await self._sweep_lease()
        share = fair_share(self.name, self.live, self.shards)
        keep = sorted(self.applied & self.owned, key=lambda s: preference(self.name, s), reverse=True)
        release, keep = keep[share:], keep[:share]
        if len(keep) < share:
            free = sorted(set(range(self.shards)) - set(keep), key=lambda s: preference(self.name, s), reverse=True)
            for shard in free:
                if len(keep) >= share:
                    break
                if await self._acquire(keys=[self.lease_key(shard)], args=[self.value, self.ttl_ms, f"{self.name}|"]):
                    self.owned.add(shard)
                    keep.append(shard)
        wanted = set(keep)
        if wanted != self.applied:
            logger.info(
                "%s applies shards %s (was %s; %d collectors)",
                *(self.name, sorted(wanted), sorted(self.applied), len(self.live)),
            )
            self.rebalances += 1
            renewing = asyncio.create_task(self._keep_renewing())  # a long drain must not let the leases lapse
            try:
                await self.on_change(sorted(wanted))  # drained what it read of the released shards before returning
            finally:
                renewing.cancel()
                with contextlib.suppress(asyncio.CancelledError, *_REDIS_DOWN):
                    await renewing
            self.applied = wanted
        for shard in release:
            await self._release(keys=[self.lease_key(shard)], args=[self.value])
            self.owned.discard(shard)

    async def _keep_renewing(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            for shard in sorted(self.owned):
                await self._renew_lease(shard)
            if self.sweeping:
                await self._renew(keys=[self.sweep_key], args=[self.value, self.ttl_ms])

    async def _renew_lease(self, shard: int) -> bool:
        return bool(await self._renew(keys=[self.lease_key(shard)], args=[self.value, self.ttl_ms]))

    async def _heartbeat(self) -> list[str]:
        now_ms = int(self.clock() * 1000)
        await self.redis.zadd(self.members_key, {self.name: now_ms + self.ttl_ms})
        await self.redis.zremrangebyscore(self.members_key, "-inf", now_ms)
        members = await self.redis.zrange(self.members_key, 0, -1)
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)

    async def _sweep_lease(self) -> None:
        args: list[str | int] = [self.value, self.ttl_ms]
        if self.sweeping and await self._renew(keys=[self.sweep_key], args=args):
            return
        was = self.sweeping
        self.sweeping = bool(await self._acquire(keys=[self.sweep_key], args=[*args, f"{self.name}|"]))
        if self.sweeping and not was:
            self.sweep_terms += 1
            logger.info("%s runs the stall detector", self.name)

    async def close(self) -> None:
        """Hand every lease back and leave the collectors' set (after the consumer drained and stopped)."""
        with contextlib.suppress(*_REDIS_DOWN):
            for shard in sorted(self.owned):
                await self._release(keys=[self.lease_key(shard)], args=[self.value])
            if self.sweeping:
                await self._release(keys=[self.sweep_key], args=[self.value])
            await self.redis.zrem(self.members_key, self.name)
        self.owned = set()
        self.applied = set()
        self.sweeping = False
