"""The background sender: survives any error, heartbeats while idle, keeps what is unconfirmed until committed."""

from __future__ import annotations

import time
from typing import Any

import redis

import emitter
from emitter._sender import Sender
from emitter._spool import Spool
from emitter.events import Keys, decode_entry
from tests.helpers import wait_for


def test_an_unexpected_error_in_the_sender_loses_nothing(emitter_env, collector, store, monkeypatch, caplog):
    """Not only transport errors: whatever the sender hits, it spools, retries, and delivers.

    (Seen for real: a child forked while the parent's sender imported encodings.idna got
    ``LookupError: unknown encoding: idna`` from getaddrinfo, and its sender thread died.)
    """
    from emitter import _sender

    real_connect = _sender.connect
    failures = iter([LookupError("unknown encoding: idna")])

    def connect_failing_once(url: str) -> Any:
        for exc in failures:
            raise exc
        return real_connect(url)

    monkeypatch.setattr(_sender, "connect", connect_failing_once)
    run = emitter.init("sender-survives")
    for step in range(100):
        run.log({"loss": float(step)}, step=step)
    wait_for(lambda: store.series.count_points(run.id) == 100, what="every point, after the failed connect")
    assert "unexpected error while sending" in caplog.text and "LookupError" in caplog.text
    run.finish()


def test_heartbeats_are_sent_while_the_run_is_idle(emitter_env, collector, store, monkeypatch):
    monkeypatch.setenv("RUNWATCH_HEARTBEAT_INTERVAL", "0.2")
    run = emitter.init("heartbeat")
    wait_for(lambda: store.runs.get(run.id) and store.runs.get(run.id).last_heartbeat_at, what="a heartbeat")
    first = store.runs.get(run.id).last_heartbeat_at
    wait_for(lambda: store.runs.get(run.id).last_heartbeat_at > first, what="a later heartbeat")
    run.finish()


def test_unconfirmed_entries_past_the_memory_budget_wait_on_disk_until_the_watermark_covers_them(
    redis_url, prefix, tmp_path
):
    keys = Keys(prefix)
    spool = Spool(tmp_path / "spool")
    sender = Sender(
        run_id="run-1",
        writer="w1",
        redis_url=redis_url,
        keys=keys,
        shards=1,
        spool=spool,
        max_unconfirmed_bytes=0,  # every body goes to disk as soon as it is sent
        adopt_spool=False,
    )
    sender.start()
    for seq in range(5):
        sender.put([seq, time.time(), "metrics", {"step": seq, "values": {"x": float(seq)}}])
        assert sender.flush(10)  # one entry per event
    assert sender.unconfirmed() == 5
    assert [(s.first_seq, s.last_seq) for s in spool.segments("w1")] == [(i, i) for i in range(5)]
    client = redis.Redis.from_url(redis_url)
    entries: Any = client.xrange(keys.stream(0))
    assert [decode_entry(fields).first_seq for _id, fields in entries] == [0, 1, 2, 3, 4]

    client.set(keys.committed(0, "run-1", "w1"), 2)  # the collector committed seqs 0..2 (one shard: shard 0)
    wait_for(lambda: sender.unconfirmed() == 2, what="seqs 0..2 confirmed")
    assert [s.first_seq for s in spool.segments("w1")] == [3, 4]
    client.set(keys.committed(0, "run-1", "w1"), 4)
    wait_for(lambda: sender.unconfirmed() == 0, what="everything confirmed")
    assert spool.segments() == []
    sender.close(timeout=10)
    client.close()
