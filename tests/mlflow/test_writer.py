"""``MlflowWriter``: one more writer of the event contract — once per request, gapless seqs per run."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis
import redis.asyncio as aioredis

from collector.api.mlflow.writer import MlflowWriter, Pending
from collector.consumer import CommitReport
from collector.store.records import WriteResult
from emitter.events import decode_entry, shard_for


def _entries(settings, run_id):
    client = redis.Redis.from_url(settings.redis_url)
    stream = settings.keys.stream(shard_for(run_id, settings.shards))
    entries: Any = client.xrange(stream)
    return [decode_entry(fields) for _, fields in entries]


def _write(settings, run_id, digests):
    async def go():
        client = aioredis.from_url(settings.redis_url)
        writer = MlflowWriter(settings, client)
        for digest in digests:
            await writer.write(run_id, [Pending("params", {"params": {"k": digest}}, time.time())], digest)
        await client.aclose()
        return writer

    return asyncio.run(go())


def test_a_retried_request_is_appended_once_and_seqs_have_no_gap(settings, collector, store):
    writer = _write(settings, "run-a", ["one", "two", "one", "three", "two"])
    [who] = store.runs.detail("run-a")["writers"]
    assert who["writer"].startswith("mlflow-") and store.watermark("run-a", who["writer"]) == 2  # seqs 0, 1, 2
    assert store.runs.params("run-a") == {"k": "three"}
    assert (writer.written, writer.retries, writer.late) == (3, 2, 0)


def test_a_write_whose_commit_does_not_come_is_answered_after_the_wait_and_the_run_gets_a_new_writer(settings):
    settings = settings.model_copy(update={"mlflow_commit_wait": 0.05})  # no collector: nothing commits
    writer = _write(settings, "run-b", ["one", "two"])
    batches = _entries(settings, "run-b")
    assert writer.late == 2
    assert [b.first_seq for b in batches] == [0, 0] and batches[0].writer != batches[1].writer


def test_the_collector_publishes_a_commit_message_once_the_watermarks_are_set(settings, collector, store):
    subscriber = redis.Redis.from_url(settings.redis_url).pubsub(ignore_subscribe_messages=True)
    subscriber.subscribe(settings.keys.commits)
    _write(settings, "run-c", ["one"])
    message = None
    deadline = time.monotonic() + 10
    while message is None and time.monotonic() < deadline:
        message = subscriber.get_message(timeout=1.0)
    assert message is not None and message["channel"].decode() == settings.keys.commits
    [who] = store.runs.detail("run-c")["writers"]
    assert store.watermark("run-c", who["writer"]) == 0  # the message came after the commit it announces


def test_writes_are_woken_by_commit_messages_and_each_still_reads_its_own_watermark(settings, collector, store):
    async def go():
        client = aioredis.from_url(settings.redis_url)
        writer = MlflowWriter(settings, client)
        seq = 0
        while not writer.commits.live and seq < 500:  # the first writes poll until the subscription hears one
            await writer.write("run-d", [Pending("metrics", {"step": seq, "values": {"x": 1.0}}, time.time())], None)
            seq += 1
        assert writer.commits.live
        woken_from = writer.commits.generation
        for _ in range(5):
            await writer.write("run-d", [Pending("metrics", {"step": seq, "values": {"x": 1.0}}, time.time())], None)
            seq += 1
        await writer.close()
        await client.aclose()
        return writer, seq, woken_from

    writer, seqs, woken_from = asyncio.run(go())
    assert writer.commits.generation >= woken_from + 5 and writer.late == 0
    [who] = store.runs.detail("run-d")["writers"]
    assert store.watermark("run-d", who["writer"]) == seqs - 1
    assert len(list(store.series.points("run-d", ["x"]))) == seqs


def test_in_process_the_consumers_commit_report_answers_the_write_without_its_redis_watermark(settings):
    """``runwatch serve``: the consumer's listener hands the writer its watermark right after the store commit."""
    settings = settings.model_copy(update={"mlflow_commit_wait": 60.0})  # no collector: only the report can answer

    async def go():
        client = aioredis.from_url(settings.redis_url)
        writer = MlflowWriter(settings, client)
        stream = settings.keys.stream(shard_for("run-e", settings.shards))
        answered = asyncio.create_task(
            writer.write("run-e", [Pending("metrics", {"step": 0, "values": {"x": 1.0}}, time.time())], None)
        )
        while not await client.xlen(stream):  # the entry is in the stream: the write now waits for its commit
            await asyncio.sleep(0.01)
        entries: Any = await client.xrange(stream)
        batch = decode_entry(entries[0][1])
        report = CommitReport(WriteResult(watermarks={("run-e", batch.writer): batch.first_seq}), 1, 0.0)
        await asyncio.to_thread(writer.on_commit, report)  # as the store thread calls its listeners
        await asyncio.wait_for(answered, 30)
        await writer.close()
        await client.aclose()
        return writer

    writer = asyncio.run(go())
    assert (writer.written, writer.late) == (1, 0)
