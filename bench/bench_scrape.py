"""Scrape cost of /metrics with many active runs while the collector ingests.

    .venv/bin/python bench/bench_scrape.py                 # 500 runs × 50 keys, target < 250 ms
    .venv/bin/python bench/bench_scrape.py --runs 100 --keys 20 --scrapes 20

Part 1 (end to end): a private redis-server, ``runwatch serve`` in a subprocess, and a loader
process writing every run's next step (all keys) each ``--interval`` seconds straight into the
streams; once every series is exported, ``GET /metrics`` (served by ``Exporter.render()``) is
timed ``--scrapes`` times.
Part 2 (in process): the same series in an ``Exporter`` fed by a thread, timing the
generic ``generate_latest(registry)`` against ``Exporter.render()``, the baseline in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_pipeline import free_port  # noqa: E402

PREFIX = "rwbench"
SHARDS = 4


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


# ------------------------------------------------------------------ the loader process


def load(redis_url: str, runs: int, keys: int, interval: float) -> None:
    """Write run.start for every run, then each run's next step of ``keys`` values every ``interval`` s."""
    import redis

    from emitter.events import Keys, encode_entry, shard_for

    client = redis.Redis.from_url(redis_url)
    streams = Keys(PREFIX)
    names = [f"train/metric_{k:02d}" for k in range(keys)]
    seqs = [0] * runs
    pipe = client.pipeline(transaction=False)
    for r in range(runs):
        run_id = f"bench-{r:04d}"
        start = [
            [0, time.time(), "run.start", {"project": f"proj-{r % 10}", "name": f"run-{r}"}],
            [1, time.time(), "status", {"status": "running"}],
        ]
        pipe.xadd(streams.stream(shard_for(run_id, SHARDS)), encode_entry(run_id, f"w{r}", start))
        seqs[r] = 2
    pipe.execute()
    step = 0
    while True:
        began = time.monotonic()
        for r in range(runs):
            run_id = f"bench-{r:04d}"
            values = {name: float(step * 0.001 + k) for k, name in enumerate(names)}
            event = [[seqs[r], time.time(), "metrics", {"step": step, "values": values}]]
            pipe.xadd(streams.stream(shard_for(run_id, SHARDS)), encode_entry(run_id, f"w{r}", event))
            seqs[r] += 1
        pipe.execute()
        step += 1
        time.sleep(max(0.0, interval - (time.monotonic() - began)))


# ------------------------------------------------------------------ part 1: end to end


def end_to_end(args: argparse.Namespace) -> None:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    from collector.embedded_redis import find_server_binary

    binary = find_server_binary()
    if not binary:
        raise SystemExit("no redis-server (or valkey) binary: apt-get install redis-server")
    tmp = Path(tempfile.mkdtemp(prefix="rwbench-"))
    redis_port, port = free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    procs: list[subprocess.Popen[bytes]] = []
    serve_log = (tmp / "serve.log").open("w")
    try:
        procs.append(
            subprocess.Popen(
                [
                    binary,
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(redis_port),
                    "--dir",
                    str(tmp),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        env = {
            **os.environ,
            "RUNWATCH_REDIS_URL": redis_url,
            "RUNWATCH_PREFIX": PREFIX,
            "RUNWATCH_HOME": str(tmp),
            "RUNWATCH_PORT": str(port),
            "RUNWATCH_SHARDS": str(SHARDS),
            "RUNWATCH_EXPORTER_MAX_SERIES": str(max(50_000, args.runs * args.keys)),
        }
        time.sleep(0.3)
        serve = [sys.executable, "-m", "collector", "serve"]
        procs.append(subprocess.Popen(serve, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=serve_log))
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)

        def healthy() -> bool:
            try:
                return http.get("/healthz").status_code == 200
            except httpx.HTTPError:
                return False

        wait(healthy, 30, "runwatch serve")
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--load",
                    redis_url,
                    "--runs",
                    str(args.runs),
                    "--keys",
                    str(args.keys),
                    "--interval",
                    str(args.interval),
                ],
                cwd=ROOT,
            )
        )
        expected = args.runs * args.keys

        def series() -> int:
            text = http.get("/metrics").text
            return sum(1 for line in text.splitlines() if line.startswith("runwatch_run_metric{")) >= expected

        wait(series, 120, f"{expected} runwatch_run_metric series")

        def points() -> float:
            families = text_string_to_metric_families(http.get("/metrics").text)
            return sum(
                s.value
                for f in families
                if f.name == "runwatch_points_ingested"
                for s in f.samples
                if s.name.endswith("_total")
            )

        before, t0 = points(), time.monotonic()
        timings, sizes = [], []
        for _ in range(args.scrapes):
            started = time.perf_counter()
            response = http.get("/metrics")
            timings.append(time.perf_counter() - started)
            sizes.append(len(response.content))
            time.sleep(0.2)
        rate = (points() - before) / (time.monotonic() - t0)
        samples = sum(len(f.samples) for f in text_string_to_metric_families(response.text))
        print(
            f"end to end: GET /metrics on `runwatch serve`, {args.runs} runs x {args.keys} keys, "
            f"ingesting {rate:,.0f} points/s (offered {args.runs * args.keys / args.interval:,.0f})"
        )
        report(timings, sizes[-1], samples)
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        serve_log.close()
        if os.environ.get("BENCH_KEEP"):
            print("  kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------ part 2: in process


def in_process(args: argparse.Namespace) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from collector.consumer import CommitReport
    from collector.exporter import Exporter
    from collector.settings import Settings
    from collector.store.base import WriteResult
    from emitter.events import Event

    class BenchSettings(Settings):
        exporter_max_series: int = max(50_000, args.runs * args.keys)

    settings = BenchSettings(prefix=PREFIX, shards=SHARDS)
    exporter = Exporter(settings, registry=CollectorRegistry(), consumer=None)
    names = [f"train/metric_{k:02d}" for k in range(args.keys)]

    def step_events(step: int) -> list[Event]:
        return [
            Event(
                f"bench-{r:04d}",
                f"w{r}",
                step + 2,
                0.0,
                "metrics",
                {"step": step, "values": {n: float(step + k) for k, n in enumerate(names)}},
            )
            for r in range(args.runs)
        ]

    starts = [
        Event(f"bench-{r:04d}", f"w{r}", 0, 0.0, "run.start", {"project": f"proj-{r % 10}", "name": f"run-{r}"})
        for r in range(args.runs)
    ]
    exporter.on_commit(CommitReport(WriteResult(applied=starts + step_events(0)), args.runs, 0.01))
    stop = threading.Event()

    def ingest() -> None:
        step = 1
        while not stop.is_set():
            exporter.on_commit(CommitReport(WriteResult(applied=step_events(step)), args.runs, 0.01))
            step += 1
            time.sleep(args.interval)

    feeder = threading.Thread(target=ingest, daemon=True)
    feeder.start()
    try:
        for label, render in (
            ("generate_latest(registry)", lambda: generate_latest(exporter.registry)),
            ("Exporter.render()", exporter.render),
        ):
            timings = []
            for _ in range(args.scrapes):
                started = time.perf_counter()
                body = render()
                timings.append(time.perf_counter() - started)
            print(f"in process: {label}, while a thread feeds a step of every run each {args.interval}s")
            report(timings, len(body), body.count(b"\n") - body.count(b"\n#"))
    finally:
        stop.set()
        feeder.join()


def report(timings: list[float], size: int, samples: int) -> None:
    ms = sorted(t * 1000 for t in timings)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    print(
        f"  {len(ms)} scrapes: median {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, max {ms[-1]:.1f} ms; "
        f"{size / 1e6:.2f} MB, {samples:,} samples"
    )
    if os.environ.get("BENCH_VERBOSE"):
        print("  all (ms):", " ".join(f"{t * 1000:.0f}" for t in timings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--keys", type=int, default=50)
    parser.add_argument("--scrapes", type=int, default=30)
    parser.add_argument("--interval", type=float, default=1.0, help="Seconds between two steps of each run.")
    parser.add_argument("--only", choices=("end-to-end", "in-process"))
    parser.add_argument("--load", metavar="REDIS_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load(args.load, args.runs, args.keys, args.interval)
        return
    if args.only != "in-process":
        end_to_end(args)
    if args.only != "end-to-end":
        in_process(args)


if __name__ == "__main__":
    main()
