"""WAL checkpoints happen between commits, when the collector is caught up, not inside a commit.

A checkpoint inside a COMMIT (SQLite's default, and what happens once the WAL reaches
its cap) stalls whatever that commit carries, a NaN's alert included. The collector's
store checkpoints in ``idle()``, which the consumer calls only when nothing waits.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import msgpack
import redis
import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from collector.consumer import Consumer
from collector.store.sqlite import SQLiteStore
from emitter.events import CONTRACT_VERSION, Batch, Event, Kind


def write_steps(store: SQLiteStore, first: int, count: int) -> None:
    """``count`` commits of one step each, the way a live run arrives."""
    for step in range(first, first + count):
        event = Event("run", "writer", step, 1000.0 + step, Kind.METRICS, {"step": step, "values": {"loss": 1.0}})
        store.write([Batch("run", "writer", [event])], [], now=2000.0 + step)


def wal_bytes(store: SQLiteStore) -> int:
    return os.path.getsize(f"{store.path}-wal")


def test_checkpoints_when_idle_keep_the_wal_restarting_from_its_beginning(tmp_path: Path):
    store = SQLiteStore(tmp_path / "runwatch.db")
    store.checkpoint_when_idle(interval=0.0, cap_pages=1_000_000)
    for round_ in range(20):
        write_steps(store, round_ * 25, 25)
        store.idle()
    # every round restarts the WAL, so it never holds more than one round's pages
    one_round = wal_bytes(store)
    write_steps(store, 10_000, 25)
    assert wal_bytes(store) == one_round
    store.close()


def test_without_idle_moments_the_wal_grows_until_its_cap(tmp_path: Path):
    store = SQLiteStore(tmp_path / "runwatch.db")
    store.checkpoint_when_idle(interval=3600.0, cap_pages=1_000_000)  # due in an hour: idle() does nothing yet
    write_steps(store, 0, 25)
    store.idle()
    after_one_round = wal_bytes(store)
    for round_ in range(1, 20):
        write_steps(store, round_ * 25, 25)
        store.idle()
    assert wal_bytes(store) > 10 * after_one_round
    store.close()


def test_a_plain_store_leaves_checkpoints_to_sqlite(tmp_path: Path):
    """Readers (the CLI, the API's own process) open stores without the collector's schedule."""
    store = SQLiteStore(tmp_path / "runwatch.db")
    write_steps(store, 0, 3000)  # past SQLite's default of 1,000 pages: it checkpointed and restarted
    store.idle()  # a no-op for such a store
    assert wal_bytes(store) < 1000 * 4096 * 1.1
    assert store.series.count_points("run") == 3000
    store.close()


class IdleRecordingStore(SQLiteStore):
    """Records how many points were committed each time the consumer offered an idle moment."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.committed_at_idle: list[int] = []

    def idle(self) -> None:
        self.committed_at_idle.append(self.series.count_points())
        super().idle()


def _entry(seq: int) -> dict[FieldT, EncodableT]:
    body = msgpack.packb(["writer-1", [[seq, 1.0, "metrics", {"step": seq, "values": {"x": float(seq)}}]]])
    return {"v": CONTRACT_VERSION, "run": "idle-run", "b": body}


def test_the_consumer_offers_the_store_an_idle_moment_once_it_has_caught_up(settings, tmp_path: Path):
    settings = settings.model_copy(update={"shards": 1, "max_commit_points": 50})
    store = IdleRecordingStore(tmp_path / "idle.db")
    sync = redis.Redis.from_url(settings.redis_url)

    async def scenario() -> None:
        client = aioredis.from_url(settings.redis_url)
        consumer = Consumer(settings, redis=client, store=store)
        await consumer.ensure_groups()
        for seq in range(500):
            sync.xadd(settings.keys.stream(0), _entry(seq))
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        for _ in range(200):
            if store.series.count_points() == 500 and store.committed_at_idle:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task
        await client.aclose()

    asyncio.run(scenario())
    assert store.series.count_points() == 500
    assert store.committed_at_idle, "the consumer never offered the store an idle moment"
    assert store.committed_at_idle[-1] == 500
    store.close()
    sync.close()
