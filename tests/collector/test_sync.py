"""A job that ends while Redis is down leaves a spool; `runwatch sync` (or the next job) delivers it."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from collector.cli import main
from emitter._spool import Spool
from emitter.events import DEFAULT_SHARDS, Keys, encode_body, shard_for
from tests.helpers import RedisServer, ThreadedCollector, run_python, wait_for

JOB = """
import emitter
run = emitter.init("offline", name="offline-job")
for step in range(3000):
    run.log({"loss": 1.0 / (step + 1), "nan": float("nan")}, step=step)
run.finish()
print(run.id)
"""


def _offline_job(env):
    done = run_python(JOB, env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_a_run_that_ends_while_redis_is_down_is_delivered_by_runwatch_sync(tmp_path, settings, prefix, home):
    server = RedisServer(tmp_path / "later-redis")  # not started: Redis is down while the job runs
    env = {
        **__import__("os").environ,
        "RUNWATCH_REDIS_URL": server.url,
        "RUNWATCH_PREFIX": prefix,
        "RUNWATCH_HOME": str(home),
        "RUNWATCH_FLUSH_TIMEOUT": "3",
    }
    run_id = _offline_job(env)
    assert list((home / "spool").glob("*.seg")), "the job must leave its events in the spool"

    server.start()
    settings = settings.model_copy(update={"redis_url": server.url})
    from collector.store.sqlite import SQLiteStore

    store = SQLiteStore(settings.sqlite_path)
    collector = ThreadedCollector(settings, store).start()
    try:
        result = CliRunner().invoke(
            main, ["sync", "--home", str(home), "--redis-url", server.url], env={"RUNWATCH_PREFIX": prefix}
        )
        assert result.exit_code == 0, result.output
        assert "still waiting 0" in result.output
        assert store.series.count_points(run_id) == 6000
        record = store.runs.get(run_id)
        assert record is not None and record.status == "finished"
        assert not list((home / "spool").glob("*.seg"))
        again = CliRunner().invoke(
            main, ["sync", "--home", str(home), "--redis-url", server.url], env={"RUNWATCH_PREFIX": prefix}
        )
        assert again.exit_code == 0 and "sent 0" in again.output
    finally:
        collector.stop()
        store.close()
        server.kill()


def test_the_next_emitter_start_delivers_a_spool_left_behind(tmp_path, settings, prefix, home):
    server = RedisServer(tmp_path / "later-redis")
    env = {
        **__import__("os").environ,
        "RUNWATCH_REDIS_URL": server.url,
        "RUNWATCH_PREFIX": prefix,
        "RUNWATCH_HOME": str(home),
        "RUNWATCH_FLUSH_TIMEOUT": "3",
    }
    run_id = _offline_job(env)
    server.start()
    settings = settings.model_copy(update={"redis_url": server.url})
    from collector.store.sqlite import SQLiteStore

    store = SQLiteStore(settings.sqlite_path)
    collector = ThreadedCollector(settings, store).start()
    try:
        done = run_python("import emitter\nemitter.init('next-job').finish()\n", env)
        assert done.returncode == 0, done.stderr
        wait_for(lambda: store.series.count_points(run_id) == 6000, what="the old job's points")
        wait_for(lambda: not list((home / "spool").glob("*.seg")), what="the spool to drain")
    finally:
        collector.stop()
        store.close()
        server.kill()


def test_sync_without_a_collector_keeps_the_spool_and_says_why(tmp_path, prefix, home):
    server = RedisServer(tmp_path / "later-redis")
    env = {
        **__import__("os").environ,
        "RUNWATCH_REDIS_URL": server.url,
        "RUNWATCH_PREFIX": prefix,
        "RUNWATCH_HOME": str(home),
        "RUNWATCH_FLUSH_TIMEOUT": "3",
    }
    _offline_job(env)
    server.start()
    try:
        result = CliRunner().invoke(
            main,
            ["sync", "--home", str(home), "--redis-url", server.url, "--timeout", "1"],
            env={"RUNWATCH_PREFIX": prefix},
        )
        assert result.exit_code == 1
        assert "is `runwatch serve` running?" in result.output
        assert list((home / "spool").glob("*.seg")), "nothing unconfirmed may be deleted"
    finally:
        server.kill()


def test_sync_against_an_unreachable_redis_is_a_clear_error(home, tmp_path):
    from tests.helpers import free_port

    result = CliRunner().invoke(main, ["sync", "--home", str(home), "--redis-url", f"redis://127.0.0.1:{free_port()}"])
    assert result.exit_code == 1
    assert "cannot reach Redis" in result.output
    json.dumps(result.output)


WRITER = "w-slow"


def _spool_entries(home: Path, count: int) -> None:
    """``count`` spooled entries of one writer of run ``run-slow``, one event each."""
    spool = Spool(home / "spool")
    for seq in range(count):
        body = encode_body(WRITER, [[seq, time.time(), "metrics", {"step": seq, "values": {"x": 1.0}}]])
        spool.write("run-slow", WRITER, seq, seq, body)


def _slow_collector(server: RedisServer, prefix: str, home: Path, confirm: int, count: int) -> threading.Thread:
    """Confirms the first ``confirm`` of ``count`` entries one by one, each well after sync saw the one before.

    It stands in for a collector busy with other work: the committed-seq watermark is all sync reads.
    """
    keys = Keys(prefix)

    def until(predicate: Any) -> bool:  # not wait_for: a failure belongs to the test, not to this thread
        deadline = time.monotonic() + 30
        while not predicate():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def confirm_slowly() -> None:
        client = server.client()
        streams = [keys.stream(shard) for shard in range(DEFAULT_SHARDS)]
        if not until(lambda: sum(client.xlen(s) for s in streams) >= count):
            return
        for seq in range(confirm):
            time.sleep(0.4)  # the pace of a slow collector; the test's --timeout is 2 s
            client.set(keys.committed(shard_for("run-slow", DEFAULT_SHARDS), "run-slow", WRITER), seq)
            if not until(lambda: not list((home / "spool").glob(f"{WRITER}.{seq:012d}-*.seg"))):
                return  # sync gave up
        client.close()

    thread = threading.Thread(target=confirm_slowly, daemon=True)
    thread.start()
    return thread


def test_sync_keeps_waiting_while_a_slow_collector_keeps_confirming_and_shows_progress(tmp_path, prefix, home):
    """Eight confirmations 0.4 s apart take longer than --timeout 2: sync waits as long as they advance."""
    server = RedisServer(tmp_path / "redis").start()
    _spool_entries(home, 8)
    collector = _slow_collector(server, prefix, home, confirm=8, count=8)
    try:
        result = CliRunner().invoke(
            main,
            ["sync", "--home", str(home), "--redis-url", server.url, "--timeout", "2"],
            env={"RUNWATCH_PREFIX": prefix},
        )
        collector.join(30)
        assert result.exit_code == 0, result.output
        assert "8/8" in result.output  # the progress bar: confirmed of total
        assert "sent 8, confirmed 8, still waiting 0" in result.output
        assert not list((home / "spool").glob("*.seg"))
    finally:
        server.kill()


def test_sync_gives_up_after_timeout_seconds_without_progress_and_says_what_is_left(tmp_path, prefix, home):
    server = RedisServer(tmp_path / "redis").start()
    _spool_entries(home, 8)
    collector = _slow_collector(server, prefix, home, confirm=3, count=8)  # then the collector stops
    try:
        result = CliRunner().invoke(
            main,
            ["sync", "--home", str(home), "--redis-url", server.url, "--timeout", "2"],
            env={"RUNWATCH_PREFIX": prefix},
        )
        collector.join(30)
        assert result.exit_code == 1
        output = " ".join(result.output.split())  # as one line, however the terminal wrapped it
        assert "the collector confirmed 3 of 8 entries" in output
        assert "5 are still waiting (run run-slow)" in output
        assert "nothing more was confirmed in 2 s" in output
        assert f"RUNWATCH_PREFIX={prefix}" in output  # what to check
        assert len(list((home / "spool").glob("*.seg"))) == 5, "nothing unconfirmed may be deleted"
    finally:
        server.kill()
