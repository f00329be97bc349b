"""Malformed entries are named and kept in the dead-letter stream; nothing around them is lost."""

from __future__ import annotations

import msgpack
import pytest
import redis
from redis.typing import EncodableT, FieldT

import emitter
from emitter.events import CONTRACT_VERSION, GROUP, shard_for
from tests.helpers import wait_for

pytestmark = pytest.mark.every_backend


def _valid_body(writer: str, seq: int) -> bytes:
    return msgpack.packb([writer, [[seq, 1.0, "metrics", {"step": seq, "values": {"x": 1.0}}]]])


MALFORMED: dict[str, tuple[dict[FieldT, EncodableT], str]] = {
    "garbage bytes": ({"v": CONTRACT_VERSION, "run": "r-bad", "b": b"\xc1\xff\x00garbage"}, "undecodable MessagePack"),
    "wrong version": ({"v": 99, "run": "r-bad", "b": _valid_body("w", 0)}, "unsupported contract version"),
    "missing fields": ({"hello": "world"}, "missing field(s)"),
    "wrong types": (
        {"v": CONTRACT_VERSION, "run": "r-bad", "b": msgpack.packb(["w", [["0", 1.0, "metrics", {}]]])},
        "seq must be a non-negative integer",
    ),
    "string metric value": (
        {
            "v": CONTRACT_VERSION,
            "run": "r-bad",
            "b": msgpack.packb(["w", [[0, 1.0, "metrics", {"step": 0, "values": {"x": "1"}}]]]),
        },
        "value of 'x' is not a float",
    ),
    "unknown kind": (
        {"v": CONTRACT_VERSION, "run": "r-bad", "b": msgpack.packb(["w", [[0, 1.0, "bogus", {}]]])},
        "unknown kind 'bogus'",
    ),
    "huge payload": ({"v": CONTRACT_VERSION, "run": "r-bad", "b": b"\x00" * (17 << 20)}, "exceeds the 16777216 byte"),
    "too many events in one entry": (
        {
            "v": CONTRACT_VERSION,
            "run": "r-bad",
            "b": msgpack.packb(["w", [[i, 1.0, "heartbeat", {}] for i in range(2_001)]]),
        },
        "2001 events in one entry; the limit is 2000",
    ),
    "a writer id that could be confused with another's": (
        {"v": CONTRACT_VERSION, "run": "r-bad", "b": _valid_body("w:r-victim", 0)},
        "writer must be 1 to 64 of",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_entry_is_dead_lettered_with_its_reason_and_valid_events_around_it_are_stored(
    case, emitter_env, settings, collector, store
):
    fields, reason = MALFORMED[case]
    client = redis.Redis.from_url(settings.redis_url)
    run = emitter.init("around-poison")
    run.log({"before": 1.0}, step=0)
    assert run.flush(10)
    client.xadd(settings.keys.stream(shard_for(run.id, settings.shards)), fields)
    run.log({"after": 2.0}, step=1)
    run.finish()

    letters = wait_for(lambda: store.dead_letters.list(), what="a dead letter")
    assert len(letters) == 1 and reason in letters[0].reason
    wait_for(lambda: store.series.count_points(run.id) == 2, what="the valid points around it")
    dead_stream: list[tuple[bytes, dict[bytes, bytes]]] = client.xrange(settings.keys.dead_letters)  # type: ignore[assignment]
    assert len(dead_stream) == 1 and reason in dead_stream[0][1][b"reason"].decode()
    assert collector.consumer.dead == 1
    wait_for(
        lambda: all(client.xpending(s, GROUP)["pending"] == 0 for s in settings.keys.streams(settings.shards)),
        what="everything acknowledged",
    )


def test_an_entry_that_keeps_failing_to_commit_is_dead_lettered_after_the_retry_limit(
    emitter_env, settings, collector, store, monkeypatch
):
    original = store.write

    def failing_write(batches, dead, now):
        if any(b.run_id == "poison-run" for b in batches):
            raise RuntimeError("disk says no")
        return original(batches, dead, now)

    monkeypatch.setattr(store, "write", failing_write)
    client = redis.Redis.from_url(settings.redis_url)
    body = msgpack.packb(["w1", [[0, 1.0, "metrics", {"step": 0, "values": {"x": 1.0}}]]])
    client.xadd(settings.keys.stream(0), {"v": CONTRACT_VERSION, "run": "poison-run", "b": body})
    run = emitter.init("healthy-neighbour")
    run.log({"x": 1.0})
    run.finish()

    letters = wait_for(lambda: store.dead_letters.list(), timeout=30, what="the poison entry dead-lettered")
    assert "failed 3 times: RuntimeError: disk says no" in letters[0].reason
    wait_for(lambda: store.series.count_points(run.id) == 1, what="the neighbour's point")
