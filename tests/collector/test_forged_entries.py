"""An entry can only affect the run it names: forged entries under another run's writer id change nothing.

A writer id is shown to every viewer (run detail), so anyone who may XADD to the streams
knows it. Idempotency and watermarks are keyed by (run, writer); a seq jump past
``MAX_SEQ_GAP`` and a run past its key limit are refused and dead-lettered with the reason.
"""

from __future__ import annotations

import math

import pytest
import redis

import emitter
from emitter.events import MAX_KEYS_PER_RUN, MAX_SEQ_GAP, encode_entry, shard_for
from tests.helpers import wait_for

pytestmark = pytest.mark.every_backend


def _xadd(settings, run_id: str, writer: str, events: list[list[object]]) -> None:
    client = redis.Redis.from_url(settings.redis_url)
    client.xadd(settings.keys.stream(shard_for(run_id, settings.shards)), encode_entry(run_id, writer, events))
    client.close()


def _watermark(settings, run_id: str, writer: str) -> int:
    client = redis.Redis.from_url(settings.redis_url)
    mark = client.get(settings.keys.committed(shard_for(run_id, settings.shards), run_id, writer))
    client.close()
    return -1 if mark is None else int(mark)


def test_an_entry_under_another_runs_writer_id_cannot_silence_that_run(emitter_env, collector, store, settings):
    victim = emitter.init("victim")
    victim.log({"loss": 0.5}, step=0)
    assert victim.flush(10)
    wait_for(lambda: store.series.count_points(victim.id) == 1, what="the victim's first point")
    # the attacker names its own run, the victim's writer id, and the victim's next seqs and far beyond:
    # were claims kept per writer alone, the victim's NaN, note and finish() would all be "duplicates"
    start = store.watermark(victim.id, victim.writer) + 1
    forged = [[seq, 1.0, "heartbeat", {}] for seq in range(start, start + 1_999)]
    _xadd(settings, "attacker-run", victim.writer, [*forged, [start + 1_999, 1.0, "note", {"text": "owned"}]])
    wait_for(lambda: store.runs.notes("attacker-run"), what="the forged entry applied to the run it names")
    victim.log({"loss": math.nan}, step=1)
    victim.note("still heard")
    victim.finish()
    wait_for(lambda: (r := store.runs.get(victim.id)) and r.status == "finished", what="the victim's finish()")
    assert store.series.count_points(victim.id) == 2
    assert math.isnan(store.runs.get(victim.id).metrics["loss"].last)
    assert [text for _, text in store.runs.notes(victim.id)] == ["still heard"]
    assert [text for _, text in store.runs.notes("attacker-run")] == ["owned"]  # where it said it belongs
    assert store.watermark(victim.id, victim.writer) == 5  # run.start, running, loss, loss, note, finished: 0..5
    assert _watermark(settings, victim.id, victim.writer) == store.watermark(victim.id, victim.writer)


def test_an_entry_jumping_past_the_seq_gap_is_dead_lettered_and_the_writers_watermark_stays(
    emitter_env, collector, store, settings
):
    run = emitter.init("jumped")
    run.log({"x": 1.0}, step=0)
    assert run.flush(10)
    wait_for(lambda: store.series.count_points(run.id) == 1, what="the run's first point")
    before = store.watermark(run.id, run.writer)
    _xadd(settings, run.id, run.writer, [[before + MAX_SEQ_GAP + 1, 1.0, "note", {"text": "forged"}]])
    [letter] = wait_for(lambda: store.dead_letters.list(), what="the jump dead-lettered")
    assert "jumps more than 1,000,000 past what writer" in letter.reason and letter.run_id == run.id
    run.log({"x": 2.0}, step=1)
    run.finish()
    wait_for(lambda: (r := store.runs.get(run.id)) and r.status == "finished", what="the run's finish()")
    assert store.series.count_points(run.id) == 2 and store.runs.notes(run.id) == []
    assert store.watermark(run.id, run.writer) < before + MAX_SEQ_GAP


def test_an_entry_past_the_runs_key_limit_is_dead_lettered_and_the_run_keeps_what_it_has(
    emitter_env, collector, store, settings
):
    run = emitter.init("wide")
    run.log({"loss": 0.5}, step=0)
    assert run.flush(10)
    wait_for(lambda: store.series.count_points(run.id) == 1, what="the run's first point")
    wide = {f"k{i}": 1.0 for i in range(MAX_KEYS_PER_RUN)}  # with loss: one past the limit
    _xadd(settings, run.id, "forger", [[0, 1.0, "metrics", {"step": 1, "values": wide}]])
    [letter] = wait_for(lambda: store.dead_letters.list(), timeout=60, what="the wide entry dead-lettered")
    assert f"the limit ({MAX_KEYS_PER_RUN:,})" in letter.reason
    run.log({"loss": 0.25}, step=1)
    run.finish()
    wait_for(lambda: (r := store.runs.get(run.id)) and r.status == "finished", what="the run's finish()")
    assert store.series.keys(run.id) == ["loss"] and store.series.count_points(run.id) == 2
