"""Multi-stream reads and acknowledgements that never span two Redis Cluster slots.

On one server, the collector reads every shard's stream with one ``XREADGROUP`` and acknowledges
a commit in one ``MULTI``; the live hub reads every stream with one ``XREAD``. On a cluster each
shard's keys (``{prefix}:{N}:events``, ``{prefix}:{N}:committed:…``) share one slot, and
different shards are different slots, so those commands would be refused with ``CROSSSLOT``.
Here they are split per stream and run concurrently:

- a read first asks every stream without blocking; only when all are empty does it block, on
  every stream at once, for at most ``CLUSTER_BLOCK_MS`` (every reply is waited for, so a long
  block would delay the streams that did answer);
- an acknowledgement is one ``MULTI`` per shard (its stream's ``XACK`` and its writers'
  watermarks, one slot), after the dead letters' ``XADD`` (their own key). A crash between
  the two can record a dead letter twice when the entry is read again; it never loses one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from emitter.events import GROUP

#: Longest a per-stream blocking read waits on a cluster (milliseconds).
CLUSTER_BLOCK_MS = 50

Reply = list[tuple[Any, list[Any]]]


def _as_list(reply: Any) -> Reply:
    if not reply:
        return []
    return list(reply.items()) if isinstance(reply, dict) else list(reply)


async def xreadgroup_per_stream(
    redis: aioredis.Redis,
    consumer: str,
    streams: Mapping[str, str],
    *,
    count: int,
    block: int | None,
) -> Reply:
    """``XREADGROUP`` over ``streams`` as one call per stream; the replies joined like one reply."""

    async def one(stream: str, start: str, wait: int | None) -> Reply:
        return _as_list(await redis.xreadgroup(GROUP, consumer, {stream: start}, count=count, block=wait))

    first = await asyncio.gather(*(one(s, start, None) for s, start in streams.items()))
    joined = [item for reply in first for item in reply if item[1]]
    if joined or block is None or any(start != ">" for start in streams.values()):
        return joined
    wait = min(block, CLUSTER_BLOCK_MS)
    second = await asyncio.gather(*(one(s, start, wait) for s, start in streams.items()))
    return [item for reply in second for item in reply if item[1]]


async def xread_per_stream(redis: aioredis.Redis, positions: Mapping[str, str], *, count: int, block: int) -> Reply:
    """``XREAD`` over several streams as one call per stream (the live hub on a cluster)."""

    async def one(stream: str, position: str, wait: int | None) -> Reply:
        return _as_list(await redis.xread({stream: position}, count=count, block=wait))

    first = await asyncio.gather(*(one(s, p, None) for s, p in positions.items()))
    joined = [item for reply in first for item in reply if item[1]]
    if joined:
        return joined
    wait = min(block, CLUSTER_BLOCK_MS)
    second = await asyncio.gather(*(one(s, p, wait) for s, p in positions.items()))
    return [item for reply in second for item in reply if item[1]]


async def ack_per_slot(
    redis: aioredis.Redis,
    dead_letters: tuple[str, Sequence[Mapping[FieldT, EncodableT]]],
    acks: Mapping[str, Sequence[str]],
    watermarks: Mapping[str, Sequence[tuple[str, int]]],
    ttl: int,
) -> None:
    """Dead letters added, then per stream one ``MULTI``: its ``XACK`` and the watermarks of its shard.

    ``watermarks`` maps a stream to the ``(committed key, seq)`` pairs of the runs on its shard.
    """
    stream_of_dead, letters = dead_letters
    if letters:
        pipe = redis.pipeline(transaction=True)
        for fields in letters:
            pipe.xadd(stream_of_dead, dict(fields), maxlen=100_000, approximate=True)
        await pipe.execute()

    async def one(stream: str) -> None:
        pipe = redis.pipeline(transaction=True)
        ids = acks.get(stream, ())
        if ids:
            pipe.xack(stream, GROUP, *ids)
        for key, committed in watermarks.get(stream, ()):
            pipe.set(key, committed, ex=ttl)
        await pipe.execute()

    await asyncio.gather(*(one(stream) for stream in {*acks, *watermarks}))
