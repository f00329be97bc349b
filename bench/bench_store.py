"""``store.write`` on SQLite and on PostgreSQL, side by side: points/s for two shapes of load.

    .venv/bin/python bench/bench_store.py [--runs 500] [--keys 50] [--steps 20] [--points 500000]
    RUNWATCH_BENCH_DATABASE_URL=postgresql://user@host/db .venv/bin/python bench/bench_store.py

- *many runs, a step at a time*: every commit holds one step of 100 runs (``--runs`` ×
  ``--keys``), so every point is its own chunk row, summary update and rollup updates;
  measured from step 0 and from step 3,600 (an hour at a step a second: 5 rollup levels);
- *one long series*: one run logging one key, 5,000 points per commit (the consumer's
  ``max_commit_points``), ``--points`` in all.

Both go through ``store.write``, what the consumer calls. PostgreSQL is the server of
``RUNWATCH_BENCH_DATABASE_URL`` (a user allowed to create databases), else 127.0.0.1:5432
(user postgres or root); the benchmark creates ``runwatch_bench_<random>`` for itself and
drops it at the end. Without a server it measures SQLite only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collector.store.postgres import PostgresStore  # noqa: E402
from collector.store.sqlite import SQLiteStore  # noqa: E402
from emitter.events import Batch, Event, Kind  # noqa: E402

RUNS_PER_COMMIT = 100
POINTS_PER_COMMIT = 5_000

Opener = Callable[[], Any]


@contextmanager
def postgres_server() -> Iterator[str | None]:
    """The URL of a database of the benchmark's own (dropped at the end), or None without a server."""
    import psycopg

    candidates = [os.environ.get("RUNWATCH_BENCH_DATABASE_URL")] + [
        f"postgresql://{user}@127.0.0.1:5432/postgres" for user in ("postgres", "root")
    ]
    for admin in filter(None, candidates):
        try:
            conn = psycopg.connect(admin, autocommit=True, connect_timeout=3)
        except psycopg.Error:
            continue
        name = f"runwatch_bench_{uuid.uuid4().hex[:10]}"
        conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlsplit(admin)._replace(path=f"/{name}").geturl()
        finally:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.close()
        return
    yield None


def clear(url: str) -> None:
    """Empty every table of the benchmark's PostgreSQL database (each measurement starts from nothing)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename != 'schema_version'"
        ).fetchall()
        conn.execute(f"TRUNCATE {', '.join(name for (name,) in tables)} RESTART IDENTITY")
        conn.execute("VACUUM ANALYZE")


def many_runs(open_store: Opener, runs: int, keys: int, steps: int, first_step: int) -> float:
    """Points/s of ``runs`` runs logging ``keys`` keys a step at a time, from ``first_step``."""
    store = open_store()
    names = [f"train/metric_{k:02d}" for k in range(keys)]
    seqs = [0] * runs

    def commit(run_ids: range, kind: str, payload: dict[str, Any]) -> None:
        batches = []
        for r in run_ids:
            batches.append(Batch(f"run-{r}", f"w-{r}", [Event(f"run-{r}", f"w-{r}", seqs[r], 0.0, kind, payload)]))
            seqs[r] += 1
        store.write(batches, [], time.time())

    try:
        for start in range(0, runs, RUNS_PER_COMMIT):
            group = range(start, min(runs, start + RUNS_PER_COMMIT))
            commit(group, Kind.RUN_START, {"project": "p", "name": "r"})
            if first_step:  # the run's history: its first step, so the series spans [0, first_step]
                commit(group, Kind.METRICS, {"step": 0, "values": dict.fromkeys(names, 0.5)})
        started = time.perf_counter()
        for step in range(first_step, first_step + steps):
            values = {name: float(step + k) for k, name in enumerate(names)}
            for start in range(0, runs, RUNS_PER_COMMIT):
                commit(range(start, min(runs, start + RUNS_PER_COMMIT)), Kind.METRICS, {"step": step, "values": values})
            store.idle()
        return runs * keys * steps / (time.perf_counter() - started)
    finally:
        store.close()


def long_series(open_store: Opener, points: int) -> float:
    """Points/s of one run logging one key, ``POINTS_PER_COMMIT`` points per commit."""
    store = open_store()
    try:
        store.write([Batch("long", "w", [Event("long", "w", 0, 0.0, Kind.RUN_START, {"project": "p"})])], [], 0.0)
        started = time.perf_counter()
        for first in range(0, points, POINTS_PER_COMMIT):
            events = [
                Event(
                    "long",
                    "w",
                    step + 1,
                    float(step),
                    Kind.METRICS,
                    {"step": step, "values": {"loss": 1.0 / (step + 1)}},
                )
                for step in range(first, min(points, first + POINTS_PER_COMMIT))
            ]
            store.write([Batch("long", "w", events)], [], time.time())
            store.idle()
        return points / (time.perf_counter() - started)
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--keys", type=int, default=50)
    parser.add_argument("--steps", type=int, default=20, help="steps each run logs in the measured part")
    parser.add_argument("--points", type=int, default=500_000, help="points of the one long series")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as directory, postgres_server() as pg_url:

        def sqlite() -> SQLiteStore:
            store = SQLiteStore(Path(directory) / f"bench-{time.monotonic_ns()}.db")
            store.checkpoint_when_idle()  # as the collector opens it
            return store

        def postgres() -> PostgresStore:
            assert pg_url is not None
            clear(pg_url)
            return PostgresStore(pg_url, pool_size=2)

        backends: dict[str, Opener] = {"sqlite": sqlite}
        if pg_url is None:
            print("no PostgreSQL answers (RUNWATCH_BENCH_DATABASE_URL, 127.0.0.1:5432): SQLite only")
        else:
            PostgresStore(pg_url, pool_size=1).close()  # migrated once, outside the measurements
            backends["postgres"] = postgres
        print(f"points/s through store.write; {args.runs} runs x {args.keys} keys, commits of {RUNS_PER_COMMIT} runs")
        shapes: dict[str, Callable[[Opener], float]] = {
            "many_runs_step_0": lambda open_: many_runs(open_, args.runs, args.keys, args.steps, 0),
            "many_runs_step_3600": lambda open_: many_runs(open_, args.runs, args.keys, args.steps, 3600),
            "one_long_series": lambda open_: long_series(open_, args.points),
        }
        for shape, measure in shapes.items():
            figures = {name: measure(open_) for name, open_ in backends.items()}
            results[shape] = figures
            shown = "   ".join(f"{name} {value:>9,.0f}" for name, value in figures.items())
            print(f"  {shape:<22} {shown}", flush=True)
    print("JSON: " + json.dumps(results))


if __name__ == "__main__":
    main()
