"""Live latency benchmark: from ``run.log()`` returning to a websocket client holding the point.

    .venv/bin/python bench/bench_live.py [--clients 1,100] [--load 100000] [--seconds 8]

Starts its own redis-server on a free port, a `runwatch collect` process (the consumer
group persisting everything), an API process (uvicorn + ``create_app``), and background
emitter processes logging ``--load`` points/s into other runs. In this process a probe
run logs one point every 20 ms while N websocket clients subscribed to it record when
each point arrives. Prints p50/p99/max per client count. Target: p99 <= 50 ms (a frame goes
out as soon as the hub reads a point; frames coalesce only while one is being written).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_pipeline import free_port, start_redis  # noqa: E402

PROBE_INTERVAL = 0.02

API_CHILD = """
import sys, uvicorn, redis.asyncio as aioredis
from collector.settings import Settings
from collector.store.sqlite import SQLiteStore
from collector.api.app import create_app
settings = Settings()
store = SQLiteStore(settings.sqlite_path)
app = create_app(settings, redis=aioredis.from_url(settings.redis_url), store=store)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", lifespan="off",
            timeout_graceful_shutdown=1)
"""

LOAD_CHILD = """
import json, sys, time
import emitter
rate, seconds, keys = float(sys.argv[1]), float(sys.argv[2]), 10
run = emitter.init("load", config={"rate": rate})
names = [f"m{i}" for i in range(keys)]
calls_per_tick, tick = max(1, int(rate / keys / 100)), 0.01
step, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < seconds:
    for _ in range(calls_per_tick):
        run.log({n: step * 1e-3 + i for i, n in enumerate(names)}, step=step)
        step += 1
    ahead = t0 + (step / calls_per_tick) * tick - time.perf_counter()
    if ahead > 0:
        time.sleep(ahead)
elapsed = time.perf_counter() - t0
run.finish()
print(json.dumps({"points": step * keys, "seconds": elapsed}))
"""


def wait_http(url: str, timeout: float = 20) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


async def measure(ws_url: str, clients: int, seconds: float, load: float, env: dict[str, str]) -> dict[str, float]:
    import websockets

    import emitter

    probe = emitter.init("probe", name=f"probe-{clients}")
    sent: dict[int, float] = {}
    received: list[dict[int, float]] = [{} for _ in range(clients)]
    sockets = [await websockets.connect(ws_url, max_size=None) for _ in range(clients)]
    for ws in sockets:
        await ws.send(json.dumps({"runs": [probe.id], "keys": ["probe"]}))

    async def reader(index: int, ws: object) -> None:
        got = received[index]
        async for message in ws:  # type: ignore[attr-defined]
            now = time.perf_counter()
            frame = json.loads(message)
            for series in frame.get("series", ()):
                for step in series["steps"]:
                    got.setdefault(step, now)

    readers = [asyncio.create_task(reader(i, ws)) for i, ws in enumerate(sockets)]
    await asyncio.sleep(0.5)
    loaders = (
        [
            subprocess.Popen(
                [sys.executable, "-c", LOAD_CHILD, str(load / 2), str(seconds + 1)],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        if load
        else []
    )
    await asyncio.sleep(0.5)  # load running

    def log_probe() -> None:
        step = 0
        t_end = time.perf_counter() + seconds
        while time.perf_counter() < t_end:
            probe.log({"probe": float(step)}, step=step)
            sent[step] = time.perf_counter()
            step += 1
            time.sleep(PROBE_INTERVAL)

    await asyncio.to_thread(log_probe)
    await asyncio.sleep(1.0)
    for task in readers:
        task.cancel()
    for ws in sockets:
        await ws.close()
    probe.finish()
    achieved = 0.0
    for process in loaders:
        out, _ = process.communicate(timeout=60)
        report = json.loads(out.strip().splitlines()[-1])
        achieved += report["points"] / report["seconds"]
    latencies = sorted((got[step] - at) * 1000 for got in received for step, at in sent.items() if step in got)
    missing = sum(1 for got in received for step in sent if step not in got)
    return {
        "clients": clients,
        "probes": len(sent),
        "samples": len(latencies),
        "missing": missing,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "max_ms": latencies[-1],
        "load_points_per_s": achieved,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", default="1,100")
    parser.add_argument("--load", type=float, default=100_000, help="background points/s (two emitter processes)")
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        redis_process, url = start_redis(tmp / "redis", appendonly=False)
        home = tmp / "home"
        env = {
            **os.environ,
            "RUNWATCH_REDIS_URL": url,
            "RUNWATCH_PREFIX": "benchlive",
            "RUNWATCH_HOME": str(home),
            "PYTHONPATH": str(ROOT),
        }
        os.environ.update({k: env[k] for k in ("RUNWATCH_REDIS_URL", "RUNWATCH_PREFIX", "RUNWATCH_HOME")})
        collector = subprocess.Popen(
            [sys.executable, "-m", "collector", "collect"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while not (home / "runwatch.db").exists():
            time.sleep(0.05)
        port = free_port()
        api = subprocess.Popen([sys.executable, "-c", API_CHILD, str(port)], env=env, cwd=ROOT)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz")
            for clients in [int(c) for c in args.clients.split(",")]:
                result = asyncio.run(
                    measure(f"ws://127.0.0.1:{port}/api/v1/live", clients, args.seconds, args.load, env)
                )
                results.append(result)
                print(
                    f"{clients:>4} client(s), background {result['load_points_per_s']:>9,.0f} points/s: "
                    f"log() -> websocket p50 {result['p50_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms  "
                    f"max {result['max_ms']:6.1f} ms  ({result['samples']:,} samples, {result['missing']} missing)",
                    flush=True,
                )
        finally:
            api.terminate()
            collector.terminate()
            api.wait(10)
            collector.wait(20)
            redis_process.kill()
    print("target: p99 <= 50 ms (frames go out at once; they coalesce only under load)")
    print("\nJSON: " + json.dumps(results))


if __name__ == "__main__":
    main()
