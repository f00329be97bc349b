"""Several `runwatch collect` processes on one PostgreSQL divide the shards by lease.

One collector applies a shard at a time; when one dies (SIGKILL) or stops, its shards move
to the others, which take its pending entries over: nothing is lost or written twice, every
alert goes out once, and a rule counting consecutive points keeps counting across owners.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import redis

import emitter
from collector.leases import lease_holder, lease_key
from collector.store import open_store
from emitter.events import GROUP, shard_for
from tests.helpers import ROOT, CollectorProcess, assert_run_stored_exactly, load_command, spawn_python, wait_for

pytestmark = pytest.mark.every_backend("postgres")

STEPS, KEYS = 5_000, 10  # x 4 emitter processes = 200,000 points


def _rules(tmp_path: Path, webhook_url: str) -> Path:
    rules = tmp_path / "alerts.yaml"
    rules.write_text(f"""
channels: {{hook: {{type: slack, webhook_url: "{webhook_url}"}}}}
rules:
  - {{name: loss-nan, metric: loss, condition: nonfinite}}
  - {{name: diverging, metric: loss, condition: "> 10", for: 3}}
""")
    return rules


def _collectors(env: dict[str, str], tmp_path: Path, names: list[str]) -> dict[str, CollectorProcess]:
    return {
        name: CollectorProcess(
            {
                **env,
                "RUNWATCH_CONSUMER_NAME": name,
                "RUNWATCH_LEASE_SECONDS": "2",
                "RUNWATCH_BLOCK_MS": "100",
                "RUNWATCH_CLAIM_IDLE_MS": "2000",
                "RUNWATCH_CLAIM_INTERVAL": "0.5",
                "RUNWATCH_DELIVERY_LEASE": "5",
            },
            tmp_path / f"{name}.log",
        ).start()
        for name in names
    }


def _owners(client: redis.Redis, settings) -> dict[int, str | None]:
    return {shard: lease_holder(client.get(lease_key(settings.prefix, shard))) for shard in range(settings.shards)}


def _balanced(client: redis.Redis, settings, names: list[str]) -> bool:
    """Every shard leased, to the live collectors only, each holding its fair share."""
    owners = _owners(client, settings)
    held = Counter(owners.values())
    share, extra = divmod(settings.shards, len(names))
    return (
        None not in held
        and set(held) == set(names)
        and sorted(held.values()) == sorted([share + 1] * extra + [share] * (len(names) - extra))
    )


def _pending(client: redis.Redis, settings) -> int:
    return sum(client.xpending(stream, GROUP)["pending"] for stream in settings.keys.streams(settings.shards))


def _start_load(env: dict[str, str]) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(load_command(p, STEPS, KEYS, 0.01), env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for p in range(4)
    ]


@pytest.mark.slow
def test_three_collectors_one_killed_one_restarted_lose_and_duplicate_nothing_and_alert_once(
    emitter_env, settings, fake_slack, tmp_path
):
    env = {**emitter_env, "RUNWATCH_ALERTS": str(_rules(tmp_path, fake_slack.webhook_url))}
    names = ["c0", "c1", "c2"]
    collectors = _collectors(env, tmp_path, names)
    client = redis.Redis.from_url(settings.redis_url)
    load: list[subprocess.Popen[str]] = []
    try:
        wait_for(lambda: _balanced(client, settings, names), timeout=30, what="3 collectors sharing the shards")
        load = _start_load(env)
        nan_runs = []
        time.sleep(1.5)  # mid-ingest
        collectors["c0"].kill9()
        run = emitter.init("several", name="nan-after-kill")
        run.log({"loss": math.nan}, step=0)
        run.finish()
        nan_runs.append(run.id)
        wait_for(lambda: _balanced(client, settings, ["c1", "c2"]), timeout=30, what="c0's shards taken over")
        collectors["c1"].stop()
        collectors["c1"].start()
        run = emitter.init("several", name="nan-after-restart")
        run.log({"loss": math.nan}, step=0)
        run.finish()
        nan_runs.append(run.id)
        reports = []
        for process in load:
            out, _ = process.communicate(timeout=240)
            assert process.returncode == 0
            reports.append(json.loads(out.strip().splitlines()[-1]))
        store = open_store(settings)
        try:
            for report in reports:
                wait_for(
                    lambda: store.series.count_points(report["run_id"]) >= STEPS * KEYS, timeout=120, what="all points"
                )
            for report in reports:
                assert_run_stored_exactly(store, report["run_id"], report["proc"], STEPS, KEYS)
            wait_for(lambda: _pending(client, settings) == 0, timeout=60, what="empty pending lists")
            assert store.dead_letters.list() == []
            wait_for(
                lambda: all((r := store.runs.get(run_id)) and r.status == "finished" for run_id in nan_runs),
                what="both NaN runs stored",
            )
            wait_for(lambda: store.alerts.deliveries("pending") == [], timeout=60, what="every delivery settled")
            fired = [a for a in store.alerts.history(state="firing") if a.rule == "loss-nan"]
            assert sorted(a.run_id for a in fired) == sorted(nan_runs)  # one episode per run
            deliveries = store.alerts.deliveries()
            assert {d.status for d in deliveries} == {"sent"}
            assert len([r for r in fake_slack.requests if r.status == 200]) == len(deliveries)  # each sent once
        finally:
            store.close()
        wait_for(lambda: _balanced(client, settings, ["c1", "c2"]), timeout=30, what="the restarted c1 sharing again")
    finally:
        for process in load:
            process.kill()
        for collector in collectors.values():
            collector.stop()
        client.close()


def test_a_for_3_rule_keeps_counting_when_the_runs_shard_changes_owner(emitter_env, settings, fake_slack, tmp_path):
    env = {**emitter_env, "RUNWATCH_ALERTS": str(_rules(tmp_path, fake_slack.webhook_url))}
    names = ["a", "b"]
    collectors = _collectors(env, tmp_path, names)
    client = redis.Redis.from_url(settings.redis_url)
    store = open_store(settings)
    try:
        wait_for(lambda: _balanced(client, settings, names), timeout=30, what="2 collectors sharing the shards")
        run = emitter.init("several", name="diverging")
        shard = shard_for(run.id, settings.shards)
        for step in (0, 1):
            run.log({"loss": 50.0}, step=step)
        run.flush()
        wait_for(lambda: store.series.count_points(run.id) == 2, what="two high points stored")
        assert store.alerts.history(run_id=run.id) == []  # two of three: not yet
        first_owner = _owners(client, settings)[shard]
        assert first_owner is not None
        collectors[first_owner].stop()  # its shards, this run's among them, move to the other collector
        other = next(name for name in names if name != first_owner)
        wait_for(
            lambda: _balanced(client, settings, [other]), timeout=30, what="the other collector owning every shard"
        )
        run.log({"loss": 50.0}, step=2)
        run.log({"loss": 50.0}, step=3)
        run.finish()
        wait_for(lambda: (r := store.runs.get(run.id)) and r.status == "finished", what="the run finished")
        [fired] = [a for a in store.alerts.history(run_id=run.id) if a.state == "firing"]
        assert (fired.rule, fired.step) == ("diverging", 2)  # the third consecutive point, seen by the new owner
        fake_slack.wait_for(1, status=200, timeout=30)
    finally:
        store.close()
        for collector in collectors.values():
            collector.stop()
        client.close()


SILENT_JOB = """
import os, time, emitter
run = emitter.init("several", name="goes-silent")
run.log({"loss": 1.0}, step=0)
run.flush()
print(run.id, flush=True)
time.sleep(600)
"""


def test_a_run_that_dies_is_marked_lost_and_alerted_on_once_by_two_collectors(
    emitter_env, settings, fake_slack, tmp_path
):
    rules = tmp_path / "lost.yaml"
    rules.write_text(f"""
channels: {{hook: {{type: slack, webhook_url: "{fake_slack.webhook_url}"}}}}
rules:
  - {{name: heartbeat-lost, on: heartbeat_lost, after: 2s}}
  - {{name: run-lost, on: status, status: [lost]}}
""")
    env = {**emitter_env, "RUNWATCH_ALERTS": str(rules), "RUNWATCH_LOST_AFTER": "2", "RUNWATCH_HEARTBEAT_INTERVAL": "1"}
    names = ["a", "b"]
    collectors = _collectors(env, tmp_path, names)
    client = redis.Redis.from_url(settings.redis_url)
    store = open_store(settings)
    job = spawn_python(SILENT_JOB, env, stdout=subprocess.PIPE)
    try:
        wait_for(lambda: _balanced(client, settings, names), timeout=30, what="2 collectors sharing the shards")
        assert job.stdout is not None
        run_id = job.stdout.readline().strip()
        job.kill()  # SIGKILL: no status, no more heartbeats
        wait_for(lambda: (r := store.runs.get(run_id)) and r.status == "lost", timeout=60, what="the run marked lost")
        wait_for(
            lambda: len({a.rule for a in store.alerts.history(run_id=run_id, state="firing")}) == 2,
            what="both rules fired",
        )
        wait_for(lambda: store.alerts.deliveries("pending") == [], timeout=30, what="every delivery settled")
        fired = Counter(a.rule for a in store.alerts.history(run_id=run_id, state="firing"))
        assert fired == {"heartbeat-lost": 1, "run-lost": 1}
        assert len([r for r in fake_slack.requests if r.status == 200]) == len(store.alerts.deliveries()) == 2
    finally:
        job.kill()
        store.close()
        for collector in collectors.values():
            collector.stop()
        client.close()


RUN_JOB = """
import sys, time, emitter
run = emitter.init("several", run_id=sys.argv[1], name="comes-back")
run.log({"loss": 1.0}, step=int(sys.argv[2]))
run.flush()
print(run.id, flush=True)
if sys.argv[3] == "die":
    time.sleep(600)
run.finish()
"""


def test_a_lost_alert_raised_by_the_other_collector_resolves_when_the_run_comes_back(
    emitter_env, settings, fake_slack, tmp_path
):
    rules = tmp_path / "lost.yaml"
    rules.write_text(f"""
channels: {{hook: {{type: slack, webhook_url: "{fake_slack.webhook_url}"}}}}
rules:
  - {{name: heartbeat-lost, on: heartbeat_lost, after: 2s, send_resolved: true}}
""")
    env = {**emitter_env, "RUNWATCH_ALERTS": str(rules), "RUNWATCH_LOST_AFTER": "2", "RUNWATCH_HEARTBEAT_INTERVAL": "1"}
    names = ["a", "b"]
    collectors = _collectors(env, tmp_path, names)
    client = redis.Redis.from_url(settings.redis_url)
    store = open_store(settings)
    jobs: list[subprocess.Popen[str]] = []
    try:
        wait_for(lambda: _balanced(client, settings, names), timeout=30, what="2 collectors sharing the shards")
        wait_for(lambda: client.get(f"{settings.prefix}:stall-sweep"), what="a stall detector elected")
        sweeper = lease_holder(client.get(f"{settings.prefix}:stall-sweep"))
        owners = _owners(client, settings)
        run_id = next(
            f"comes-back-{i}" for i in range(100) if owners[shard_for(f"comes-back-{i}", settings.shards)] != sweeper
        )
        die = [sys.executable, "-c", RUN_JOB, run_id, "0", "die"]
        jobs.append(subprocess.Popen(die, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True))
        assert jobs[0].stdout is not None and jobs[0].stdout.readline().strip() == run_id
        jobs[0].kill()  # silent: the sweeper (which does not apply this run's shard) raises heartbeat-lost
        wait_for(
            lambda: [a.state for a in store.alerts.history(run_id=run_id)] == ["firing"], timeout=60, what="lost fired"
        )
        back = subprocess.run(
            [sys.executable, "-c", RUN_JOB, run_id, "1", "finish"], env=env, cwd=ROOT, capture_output=True, text=True
        )
        assert back.returncode == 0, back.stderr
        wait_for(
            lambda: sorted(a.state for a in store.alerts.history(run_id=run_id)) == ["firing", "resolved"],
            timeout=60,
            what="the run's owner resolving the episode the sweeper opened",
        )
        wait_for(lambda: store.alerts.deliveries("pending") == [], timeout=30, what="every delivery settled")
        assert len(store.alerts.deliveries()) == 2
        assert len([r for r in fake_slack.requests if r.status == 200]) == 2
    finally:
        for job in jobs:
            job.kill()
        store.close()
        for collector in collectors.values():
            collector.stop()
        client.close()
