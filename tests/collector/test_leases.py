"""Shard leases on a real Redis: fair shares, hand-over on leave, one stall detector, restarts take back at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

from collector.leases import ShardLeases, fair_share, lease_holder, lease_key
from collector.settings import Settings


@pytest.mark.parametrize("shards", [1, 4, 7, 16])
@pytest.mark.parametrize("collectors", [1, 2, 3, 5])
def test_fair_shares_add_up_to_the_shard_count_and_differ_by_at_most_one(shards: int, collectors: int) -> None:
    names = [f"c{i}" for i in range(collectors)]
    shares = [fair_share(name, names, shards) for name in names]
    assert sum(shares) == shards
    assert max(shares) - min(shares) <= 1


def _settings(redis_url: str, prefix: str, **extra: Any) -> Settings:
    return Settings(**{"redis_url": redis_url, "prefix": prefix, "shards": 4, "lease_seconds": 5, **extra})


class Recorder:
    """Stands in for the consumer: remembers each switch it was asked to make."""

    def __init__(self) -> None:
        self.switches: list[list[int]] = []

    async def __call__(self, shards: list[int]) -> None:
        self.switches.append(shards)


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_two_collectors_split_the_shards_and_one_leaving_hands_its_shards_to_the_other(
    redis_url: str, prefix: str
) -> None:
    async def scenario() -> None:
        client = aioredis.from_url(redis_url)
        settings = _settings(redis_url, prefix)
        a_switches, b_switches = Recorder(), Recorder()
        a = ShardLeases(settings, client, on_change=a_switches, name="a")
        b = ShardLeases(settings, client, on_change=b_switches, name="b")
        await a.step()  # alone: every shard
        assert a.applied == {0, 1, 2, 3}
        await b.step()  # sees two collectors, but a holds everything yet
        assert b.applied == set()
        await a.step()  # a hands two back, after its consumer switched away from them
        assert len(a.applied) == 2 and a_switches.switches[-1] == sorted(a.applied)
        await b.step()
        assert b.applied == {0, 1, 2, 3} - a.applied
        owners = {shard: lease_holder(await client.get(lease_key(prefix, shard))) for shard in range(4)}
        assert owners == {**{s: "a" for s in a.applied}, **{s: "b" for s in b.applied}}
        assert [a.sweeping, b.sweeping].count(True) == 1  # one stall detector

        await a.close()  # a clean stop: leases released at once, a leaves the collectors' set
        await b.step()
        assert b.applied == {0, 1, 2, 3} and b.sweeping
        await b.close()
        await client.aclose()

    _run(scenario())


def test_a_restarted_collector_takes_its_own_leases_back_but_never_anothers(redis_url: str, prefix: str) -> None:
    async def scenario() -> None:
        client = aioredis.from_url(redis_url)
        settings = _settings(redis_url, prefix)
        crashed = ShardLeases(settings, client, on_change=Recorder(), name="a")
        await crashed.step()  # holds every shard, then "dies" without releasing anything
        other = ShardLeases(settings, client, on_change=Recorder(), name="b")
        await other.step()
        assert other.applied == set()  # a's leases have not expired: b waits
        restarted = ShardLeases(settings, client, on_change=Recorder(), name="a")
        assert restarted.value != crashed.value
        await restarted.step()  # same consumer name: the leases are its own, taken back at once
        assert len(restarted.owned) == 2  # its fair share of two collectors, not waiting for expiry
        assert [lease_holder(await client.get(lease_key(prefix, s))) for s in range(4)] == ["a"] * 4
        await restarted.close()
        await other.close()
        await client.aclose()

    _run(scenario())


def test_a_collector_that_lost_its_lease_stops_applying_the_shard(redis_url: str, prefix: str) -> None:
    async def scenario() -> None:
        client = aioredis.from_url(redis_url)
        settings = _settings(redis_url, prefix, shards=1)
        switches = Recorder()
        leases = ShardLeases(settings, client, on_change=switches, name="a")
        await leases.step()
        assert leases.applied == {0}
        await client.set(lease_key(prefix, 0), "b|someone-else")  # expired, and taken by another meanwhile
        await leases.step()
        assert leases.applied == set() and switches.switches[-1] == []
        await leases.close()
        assert await client.get(lease_key(prefix, 0)) == b"b|someone-else"  # never released another's lease
        await client.aclose()

    _run(scenario())
