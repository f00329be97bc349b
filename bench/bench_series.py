"""Series query benchmark: one key with 10 million points, downsampled to 2,000 buckets.

    .venv/bin/python bench/bench_series.py [--points 10000000] [--max-points 2000]

Writes the points through the SQLite store's real write path (``SQLiteStore.write``: the
points insert plus ``update_rollups`` in the same transaction, as the consumer commits
them), then times ``GET /runs/{id}/metrics?max_points=2000`` at the query layer and over
HTTP (uvicorn on a free port). Target: <= 200 ms on SQLite. Nothing shared is touched.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emitter.events import Batch, Event  # noqa: E402

BATCH = 2_000  # events per stream entry at most (MAX_EVENTS_PER_ENTRY)


def ingest(store: object, run_id: str, points: int) -> float:
    """Write ``points`` of metric ``loss`` (with a few NaN and a spike), return points/s."""
    writer = "bench-writer"
    rng = random.Random(1)
    now = time.time()
    start = [Event(run_id, writer, 0, now, "run.start", {"project": "bench", "name": "ten-million", "config": {}})]
    store.write([Batch(run_id, writer, start)], [], now)  # type: ignore[attr-defined]
    seq = 1
    began = time.perf_counter()
    for first in range(0, points, BATCH):
        events = []
        for step in range(first, min(first + BATCH, points)):
            value = 1.0 / math.sqrt(step + 1) + rng.random() * 0.01
            if step % 1_000_003 == 0:
                value = math.nan
            elif step == points // 2:
                value = 1e6
            events.append(Event(run_id, writer, seq, now, "metrics", {"step": step, "values": {"loss": value}}))
            seq += 1
        store.write([Batch(run_id, writer, events)], [], now)  # type: ignore[attr-defined]
        if first and first % 1_000_000 == 0:
            rate = first / (time.perf_counter() - began)
            print(f"  {first:>11,} points written ({rate:,.0f} points/s)", flush=True)
    return points / (time.perf_counter() - began)


def timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def summary(times: list[float]) -> str:
    times = sorted(times)
    return f"p50 {statistics.median(times):7.1f} ms   max {times[-1]:7.1f} ms   (n={len(times)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--max-points", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    import httpx
    import redis.asyncio as aioredis
    import uvicorn

    from collector.api.app import create_app
    from collector.settings import Settings
    from collector.store.sqlite import SQLiteStore

    with tempfile.TemporaryDirectory() as directory:
        home = Path(directory)
        store = SQLiteStore(home / "runwatch.db")
        run_id = "bench-series"
        print(f"writing {args.points:,} points of one key through SQLiteStore.write (rollups included)...")
        rate = ingest(store, run_id, args.points)
        size_mb = (home / "runwatch.db").stat().st_size / 2**20
        rollup_rows = store.db.read("SELECT count(*) FROM rollups")[0][0]
        m = args.max_points

        full = timed(lambda: store.series.read(run_id, ["loss"], max_points=m), args.repeat)
        result = store.series.read(run_id, ["loss"], max_points=m)["loss"]
        assert result["count"] == args.points and len(result["steps"]) <= m
        third = args.points // 3
        window = timed(
            lambda: store.series.read(run_id, ["loss"], max_points=m, from_step=third + 7, to_step=2 * third - 3),
            args.repeat,
        )
        small = timed(
            lambda: store.series.read(run_id, ["loss"], max_points=m, from_step=third, to_step=third + 50_000),
            args.repeat,
        )

        settings = Settings(home=home, redis_url="redis://127.0.0.1:1/0")
        app = create_app(settings, redis=aioredis.from_url("redis://127.0.0.1:1/0"), store=store)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            url = f"/api/v1/runs/{run_id}/metrics?keys=loss&max_points={m}"
            http_times = timed(lambda: http.get(url).raise_for_status(), args.repeat)
            body_kb = len(http.get(url).content) / 1024
        server.should_exit = True
        thread.join(10)
        store.close()

    print(f"\nseries of {args.points:,} points, one key; ingest {rate:,.0f} points/s through the store")
    print(f"database {size_mb:,.0f} MB, rollup rows {rollup_rows:,} ({rollup_rows / args.points:.1%} of points)")
    print(
        f"max_points={m}: {len(result['steps'])} buckets of {result['bucket_steps']:,} steps from level {result['level']}"
    )
    print(f"  query layer, whole series      {summary(full)}   (target <= 200 ms)")
    print(f"  query layer, unaligned third   {summary(window)}")
    print(f"  query layer, 50k-step window   {summary(small)}")
    print(f"  HTTP GET (uvicorn, JSON {body_kb:.0f} KB) {summary(http_times)}")
    print(
        "\nJSON: "
        + json.dumps(
            {
                "points": args.points,
                "max_points": m,
                "ingest_points_per_s": rate,
                "query_full_p50_ms": statistics.median(full),
                "query_full_max_ms": max(full),
                "query_third_p50_ms": statistics.median(window),
                "query_50k_p50_ms": statistics.median(small),
                "http_p50_ms": statistics.median(http_times),
                "http_max_ms": max(http_times),
            }
        )
    )


if __name__ == "__main__":
    main()
