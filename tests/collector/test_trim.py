"""Streams are trimmed only below what every consumer has acknowledged."""

from __future__ import annotations

import asyncio

import msgpack
import redis
import redis.asyncio as aioredis

from collector.consumer import Consumer
from emitter.events import CONTRACT_VERSION, GROUP


def _entry(seq: int) -> dict:
    body = msgpack.packb(["writer-1", [[seq, 1.0, "metrics", {"step": seq, "values": {"x": float(seq)}}]]])
    return {"v": CONTRACT_VERSION, "run": "trim-run", "b": body}


def test_trimming_with_a_stalled_consumer_never_deletes_a_pending_entry(settings, store):
    stream = settings.keys.stream(0)
    sync = redis.Redis.from_url(settings.redis_url)
    settings = settings.model_copy(update={"shards": 1, "claim_idle_ms": 3_600_000})

    async def scenario() -> None:
        client = aioredis.from_url(settings.redis_url)
        consumer = Consumer(settings, redis=client, store=store)
        await consumer.ensure_groups()
        ids = [sync.xadd(stream, _entry(seq)) for seq in range(10)]
        # a stalled consumer takes the first five and never acknowledges them
        stalled = sync.xreadgroup(GROUP, "stalled", {stream: ">"}, count=5)
        assert len(stalled[0][1]) == 5
        # ours takes and commits the other five
        await consumer.step()  # its own (empty) pending list first
        assert await consumer.step() == 5
        await consumer.maintain()
        remaining = [entry_id for entry_id, _ in sync.xrange(stream)]
        assert ids[:5] == remaining[:5], "pending entries of the stalled consumer must survive the trim"
        assert all(fields for _, fields in sync.xrange(stream)), "no payload may be deleted"
        # once the stalled consumer acknowledges, the trim may take everything below the last delivered
        sync.xack(stream, GROUP, *ids[:5])
        await consumer.maintain()
        assert [entry_id for entry_id, _ in sync.xrange(stream)] == [ids[-1]]
        await client.aclose()

    asyncio.run(scenario())


def test_undelivered_entries_are_never_trimmed(settings, store):
    stream = settings.keys.stream(0)
    sync = redis.Redis.from_url(settings.redis_url)
    settings = settings.model_copy(update={"shards": 1})

    async def scenario() -> None:
        client = aioredis.from_url(settings.redis_url)
        consumer = Consumer(settings, redis=client, store=store)
        await consumer.ensure_groups()
        for seq in range(3):
            sync.xadd(stream, _entry(seq))
        await consumer.maintain()  # nothing read yet
        assert sync.xlen(stream) == 3
        await client.aclose()

    asyncio.run(scenario())
