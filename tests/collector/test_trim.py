"""Streams are trimmed only below what every consumer group has acknowledged.

``trim_floor`` decides from the XINFO GROUPS / XPENDING replies (tables, no Redis); the
scenarios below check the consumer's trim against a real redis-server.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
import redis
import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from collector.consumer import Consumer
from collector.settings import Settings
from collector.store.base import Store
from collector.trim import trim_floor
from emitter.events import GROUP, encode_entry
from tests.helpers import ThreadedCollector, wait_for

# ------------------------------------------------------------------ the floor, as tables


def group(name: bytes | str, last_delivered: bytes | str, pending: int = 0) -> dict[str, Any]:
    """One group of an XINFO GROUPS reply, as redis-py gives it."""
    return {"name": name, "consumers": 1, "pending": pending, "last-delivered-id": last_delivered}


def oldest(entry_id: bytes) -> dict[str, Any]:
    """An XPENDING summary whose oldest pending entry is ``entry_id``."""
    return {"pending": 1, "min": entry_id, "max": entry_id, "consumers": []}


NOW_MS = 1_700_000_000_000
A, B = b"collectors", b"archiver"


@pytest.mark.parametrize(
    ("groups", "pending", "retention_ms", "expected"),
    [
        pytest.param([], {}, 0, None, id="no group: nothing is known to be consumed"),
        pytest.param([group(A, b"0-0")], {}, 0, None, id="nothing delivered yet"),
        pytest.param([group(A, b"1700-3")], {}, 0, "1700-3", id="all acknowledged: up to the last delivered"),
        pytest.param(
            [group(A, b"1700-3", pending=2)], {A: oldest(b"1500-1")}, 0, "1500-1", id="the oldest pending entry stays"
        ),
        pytest.param(
            [group(A, b"1700-3", pending=1)], {A: oldest(b"1700-3")}, 0, "1700-3", id="pending is the last delivered"
        ),
        pytest.param(
            [group(A, b"1700-3"), group(B, b"1200-0")], {}, 0, "1200-0", id="the group furthest behind decides"
        ),
        pytest.param(
            [group(A, b"1700-3"), group(B, b"1800-0", pending=1)],
            {B: oldest(b"900-7")},
            0,
            "900-7",
            id="another group's pending entry stays",
        ),
        pytest.param(
            [group(A, f"{NOW_MS}-5".encode())],
            {},
            600_000,
            f"{NOW_MS - 600_000}-0",
            id="entries younger than the retention stay",
        ),
        pytest.param(
            [group(A, b"1700-3")], {}, 600_000, "1700-3", id="retention never lets an unacknowledged entry go"
        ),
        pytest.param([group(A, b"1700-3")], {}, NOW_MS, None, id="retention longer than the stream's life"),
        pytest.param([group("collectors", "1700-3")], {}, 0, "1700-3", id="decoded replies too"),
    ],
)
def test_the_trim_floor_is_the_oldest_entry_some_group_still_needs(
    groups: list[dict[str, Any]], pending: dict[Any, dict[str, Any]], retention_ms: int, expected: str | None
) -> None:
    assert trim_floor(groups, pending, NOW_MS, retention_ms) == expected


# ------------------------------------------------------------------ against a real Redis


def _entry(seq: int) -> dict[FieldT, EncodableT]:
    return encode_entry("trim-run", "writer-1", [[seq, 1.0, "metrics", {"step": seq, "values": {"x": float(seq)}}]])


def maintain(settings: Settings, store: Store) -> None:
    """One maintenance round of a consumer (groups, shard count, trim), as its loop runs it."""

    async def once() -> None:
        assert settings.redis_url is not None
        client = aioredis.from_url(settings.redis_url)
        try:
            await Consumer(settings, redis=client, store=store).maintain()
        finally:
            await client.aclose()

    asyncio.run(once())


def stored_ids(sync: redis.Redis, stream: str) -> list[bytes]:
    """Ids of the entries still in the stream, each checked to still carry its payload."""
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], sync.xrange(stream))
    assert all(fields for _, fields in entries), "no payload may be deleted"
    return [entry_id for entry_id, _ in entries]


def test_trimming_with_a_stalled_consumer_never_deletes_a_pending_entry(settings, store):
    stream = settings.keys.stream(0)
    sync = redis.Redis.from_url(settings.redis_url)
    settings = settings.model_copy(update={"shards": 1, "claim_idle_ms": 3_600_000})
    maintain(settings, store)  # creates the group
    ids = [sync.xadd(stream, _entry(seq)) for seq in range(10)]
    # a stalled consumer takes the first five and never acknowledges them
    stalled = cast(list[Any], sync.xreadgroup(GROUP, "stalled", {stream: ">"}, count=5))
    assert len(stalled[0][1]) == 5
    # ours takes and commits the other five, in its real loop (which trims as it goes)
    running = ThreadedCollector(settings, store).start()
    try:
        wait_for(lambda: running.consumer.acked == 5, what="the other five acknowledged")
    finally:
        running.stop()
    maintain(settings, store)
    assert stored_ids(sync, stream)[:5] == ids[:5], "pending entries of the stalled consumer must survive the trim"
    # once the stalled consumer acknowledges, the trim may take everything below the last delivered
    sync.xack(stream, GROUP, *ids[:5])
    maintain(settings, store)
    assert stored_ids(sync, stream) == [ids[-1]]
    sync.close()


def test_undelivered_entries_are_never_trimmed(settings, store):
    stream = settings.keys.stream(0)
    sync = redis.Redis.from_url(settings.redis_url)
    settings = settings.model_copy(update={"shards": 1})
    maintain(settings, store)  # creates the group
    for seq in range(3):
        sync.xadd(stream, _entry(seq))
    maintain(settings, store)  # nothing read yet
    assert sync.xlen(stream) == 3
    sync.close()
