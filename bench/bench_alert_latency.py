"""Alert latency: run.log({"loss": nan}) returning → the (fake) Slack server receiving the POST.

200 alerts, each a new episode (a finite loss resolves the previous one), while a
background job pushes >= 100,000 points/s through the same collector. Runs twice by
default: with the alerting run on the load's own shard stream (its NaN queues behind the
load in one stream: the worst case) and on another shard.

    .venv/bin/python bench/bench_alert_latency.py [--placement same|apart|both]

Starts its own redis-server, a real `runwatch collect`, a fake Slack webhook on 127.0.0.1
and a load-generating training process; nothing shared is touched.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_pipeline import count_points, start_redis  # noqa: E402
from tests.alerts.fake_slack import FakeSlack  # noqa: E402

ALERTS = 200
LOAD = """
import sys, time, emitter
rate, seconds = float(sys.argv[1]), float(sys.argv[2])
run = emitter.init("background-load", run_id=sys.argv[3])
names = [f"m{i}" for i in range(10)]
start = time.perf_counter()
step = 0
while time.perf_counter() - start < seconds:
    target = int((time.perf_counter() - start) * rate / 10)
    while step < target:
        run.log({n: step * 1e-3 + i for i, n in enumerate(names)}, step=step)
        step += 1
    time.sleep(0.001)
run.finish()
print(step * 10)
"""


def read_times(db_path: Path) -> list[float]:
    """When the collector read each NaN (the alert's created_at: the read time of its entry)."""
    import sqlite3

    db = sqlite3.connect(db_path)
    try:
        rows = db.execute(
            "SELECT created_at FROM alert_deliveries WHERE alert_id LIKE 'loss-nan|%' ORDER BY created_at"
        ).fetchall()
    finally:
        db.close()
    return [row[0] for row in rows]


def run_ids(placement: str) -> tuple[str, str]:
    """A load run and an alerting run whose ids hash to the same shard, or to different ones."""
    from emitter import new_run_id
    from emitter.events import DEFAULT_SHARDS, shard_for

    load = new_run_id()
    while True:
        alerting = new_run_id()
        same = shard_for(alerting, DEFAULT_SHARDS) == shard_for(load, DEFAULT_SHARDS)
        if same == (placement == "same"):
            return load, alerting


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--placement",
        choices=["same", "apart", "both"],
        default="both",
        help="the alerting run on the load's shard stream, on another, or both in turn",
    )
    parser.add_argument("--rate", type=float, default=120_000, help="background load, points/s (default 120,000)")
    args = parser.parse_args()
    results = {}
    for placement in ["same", "apart"] if args.placement == "both" else [args.placement]:
        print(f"== alerting run on {'the load' if placement == 'same' else 'another'}'s shard stream ==", flush=True)
        results[placement] = measure(placement, args.rate)
    print("JSON: " + json.dumps(results))


def measure(placement: str, rate: float) -> dict[str, float]:
    load_id, alerting_id = run_ids(placement)
    with tempfile.TemporaryDirectory() as directory, FakeSlack() as slack:
        tmp = Path(directory)
        redis_process, url = start_redis(tmp / "redis")
        home = tmp / "home"
        rules = tmp / "alerts.yaml"
        rules.write_text(
            f'channels: {{slack: {{type: slack, webhook_url: "{slack.webhook_url}"}}}}\n'
            "rules: [{name: loss-nan, metric: loss, condition: nonfinite, notify: [slack]}]\n"
        )
        env = {
            **os.environ,
            "RUNWATCH_REDIS_URL": url,
            "RUNWATCH_PREFIX": "bench",
            "RUNWATCH_HOME": str(home),
            "RUNWATCH_ALERTS": str(rules),
        }
        collector = subprocess.Popen(
            [sys.executable, "-m", "collector", "collect"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.environ.update({k: env[k] for k in ("RUNWATCH_REDIS_URL", "RUNWATCH_PREFIX", "RUNWATCH_HOME")})
        import emitter

        try:
            while not (home / "runwatch.db").exists():
                time.sleep(0.05)
            load = subprocess.Popen(
                [sys.executable, "-c", LOAD, str(rate), "60", load_id],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(2.0)  # let the load reach its rate
            before = count_points(home / "runwatch.db")
            load_started = time.perf_counter()
            run = emitter.init("alerting", name="nan-maker", run_id=alerting_id)
            import redis

            from emitter.events import DEFAULT_SHARDS, Keys, shard_for

            probe = redis.Redis.from_url(url, decode_responses=True)
            latencies = []
            sent_at: list[float] = []
            received_at: list[float] = []
            for i in range(ALERTS):
                run.log({"loss": math.nan}, step=2 * i)
                sent = time.time()
                received = slack.wait_for(i + 1, timeout=30)[i].received_at
                latencies.append((received - sent) * 1000)
                sent_at.append(sent)
                received_at.append(received)
                if os.environ.get("BENCH_VERBOSE"):
                    streams = Keys("bench").streams(DEFAULT_SHARDS)
                    lags = [next(g["lag"] for g in probe.xinfo_groups(stream)) for stream in streams]
                    print(
                        f"{i:4d} t={time.perf_counter() - load_started:6.2f}s {latencies[-1]:8.1f} ms "
                        f"shard={shard_for(run.id, DEFAULT_SHARDS)} lags={lags}",
                        flush=True,
                    )
                run.log({"loss": 1.0}, step=2 * i + 1)  # resolves: the next NaN is a new episode
                time.sleep(0.05)
            during = (count_points(home / "runwatch.db") - before) / (time.perf_counter() - load_started)
            run.finish()
            load.kill()
            read_at = read_times(home / "runwatch.db")
        finally:
            collector.terminate()
            collector.wait(10)
            redis_process.kill()
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"alert latency over {ALERTS} alerts, log() returning -> Slack POST received:")
    print(f"  p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms   (target p99 <= 100 ms)")
    print(f"  background load committed meanwhile: {during:,.0f} points/s (target >= 100,000)")
    print("  slowest:", ", ".join(f"{x:.0f}" for x in latencies[-8:]), "ms")
    if len(read_at) == ALERTS:  # where the time goes: until the collector read the NaN, then until Slack got it
        to_read = sorted((r - s) * 1000 for r, s in zip(read_at, sent_at, strict=True))
        to_slack = sorted((p - r) * 1000 for p, r in zip(received_at, read_at, strict=True))
        print(
            f"  log() -> collector read: p50 {statistics.median(to_read):.1f} ms, p99 {to_read[int(ALERTS * 0.99) - 1]:.1f} ms"
        )
        print(
            f"  read -> Slack received (commit, alert, send): p50 {statistics.median(to_slack):.1f} ms, "
            f"p99 {to_slack[int(ALERTS * 0.99) - 1]:.1f} ms"
        )
    return {"p50_ms": p50, "p99_ms": p99, "max_ms": latencies[-1], "load_points_per_s": during}


if __name__ == "__main__":
    main()
