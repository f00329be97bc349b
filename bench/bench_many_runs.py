"""Many runs each logging a step at a time: what one SQLite store commits per second.

    .venv/bin/python bench/bench_many_runs.py [--runs 500] [--keys 50] [--steps 20]

The hard shape for the store: every commit holds one step of 100 runs, so every point is
its own chunk row, summary update and rollup updates. Measured through ``SQLiteStore.write``
(what the consumer calls), near step 0 and at step 3,600 (an hour of one step a second),
against a baseline in the same run that keeps all 11 rollup levels for every series (what
the store did before levels were kept only once a series' span needs them).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collector.store.format import rollups  # noqa: E402
from collector.store.sqlite import SQLiteStore, ingest  # noqa: E402
from emitter.events import Batch, Event, Kind  # noqa: E402

RUNS_PER_COMMIT = 100


@contextmanager
def every_level_kept() -> Iterator[None]:
    """The baseline: every series keeps all levels from its first point."""
    names = vars(ingest)  # the SQLite ingest's own name for the rule, which it looks up at each commit
    lazy = names["top_level"]
    names["top_level"] = lambda low, high: rollups.LEVELS if low is not None else 1
    try:
        yield
    finally:
        names["top_level"] = lazy


def points_per_second(directory: Path, runs: int, keys: int, steps: int, first_step: int) -> float:
    store = SQLiteStore(directory / f"many-{time.monotonic_ns()}.db")
    store.checkpoint_when_idle()
    names = [f"train/metric_{k:02d}" for k in range(keys)]
    seqs = [0] * runs

    def commit(run_ids: range, kind: str, payload: dict) -> None:  # type: ignore[type-arg]
        batches = []
        for r in run_ids:
            batches.append(Batch(f"run-{r}", f"w-{r}", [Event(f"run-{r}", f"w-{r}", seqs[r], 0.0, kind, payload)]))
            seqs[r] += 1
        store.write(batches, [], time.time())

    try:
        for start in range(0, runs, RUNS_PER_COMMIT):
            commit(range(start, min(runs, start + RUNS_PER_COMMIT)), Kind.RUN_START, {"project": "p", "name": "r"})
            if first_step:  # the run's history: its first step, so the series spans [0, first_step]
                commit(
                    range(start, min(runs, start + RUNS_PER_COMMIT)),
                    Kind.METRICS,
                    {"step": 0, "values": dict.fromkeys(names, 0.5)},
                )
        started = time.perf_counter()
        for step in range(first_step, first_step + steps):
            values = {name: float(step + k) for k, name in enumerate(names)}
            for start in range(0, runs, RUNS_PER_COMMIT):
                commit(range(start, min(runs, start + RUNS_PER_COMMIT)), Kind.METRICS, {"step": step, "values": values})
            store.idle()
        return runs * keys * steps / (time.perf_counter() - started)
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--keys", type=int, default=50)
    parser.add_argument("--steps", type=int, default=20, help="steps each run logs in the measured part")
    args = parser.parse_args()
    print(
        f"{args.runs} runs x {args.keys} keys, one step per run per commit of {RUNS_PER_COMMIT} runs, "
        f"{args.steps} steps; points/s through SQLiteStore.write"
    )
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        for first_step in (0, 3600):
            lazy = points_per_second(Path(directory), args.runs, args.keys, args.steps, first_step)
            with every_level_kept():
                baseline = points_per_second(Path(directory), args.runs, args.keys, args.steps, first_step)
            print(
                f"  from step {first_step:>5}: {lazy:>9,.0f} points/s   (every level kept: {baseline:,.0f}; "
                f"x{lazy / baseline:.2f})",
                flush=True,
            )
            results[f"step_{first_step}"] = {"points_per_s": lazy, "every_level_kept_points_per_s": baseline}
    print("JSON: " + json.dumps(results))


if __name__ == "__main__":
    main()
