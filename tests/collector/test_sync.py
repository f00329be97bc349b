"""A job that ends while Redis is down leaves a spool; `runwatch sync` (or the next job) delivers it."""

from __future__ import annotations

import json

from click.testing import CliRunner

from collector.cli import main
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
