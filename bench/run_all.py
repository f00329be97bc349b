"""Every benchmark in turn, each in its own process, then the figures of each in one place.

    make bench                                # or: .venv/bin/python bench/run_all.py
    .venv/bin/python bench/run_all.py series live   # only those whose name contains a word

Each script starts its own Redis and collector and prints its figures as it goes; the
last line of each is ``JSON: {...}``, collected here. The latest figures and what they
are compared against live in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = [  # cheapest first, so a broken setup shows early
    "bench_engine.py",
    "bench_system.py",
    "bench_series.py",
    "bench_scrape.py",
    "bench_many_runs.py",
    "bench_store.py",
    "bench_pipeline.py",
    "bench_live.py",
    "bench_alert_latency.py",
    "bench_artifacts.py",
    "bench_load.py",
]


def run(script: str) -> dict[str, object] | None:
    """Run one benchmark, streaming its output; its JSON figures, or None if it failed."""
    print(f"\n=== {script} ===", flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(BENCH / script)], cwd=BENCH.parent, stdout=subprocess.PIPE, text=True
    )
    figures: dict[str, object] = {}  # a script without a JSON line: its figures are in its output
    assert process.stdout is not None
    for line in process.stdout:
        print(line, end="", flush=True)
        if line.startswith("JSON: "):
            figures = json.loads(line[len("JSON: ") :])
    if process.wait() != 0:
        print(f"--- {script} failed (exit {process.returncode}) after {time.perf_counter() - started:.0f} s")
        return None
    print(f"--- {script}: {time.perf_counter() - started:.0f} s")
    return figures


def main() -> int:
    words = sys.argv[1:]
    chosen = [s for s in SCRIPTS if not words or any(word in s for word in words)]
    if not chosen:
        print(f"no benchmark matches {words}; there are: {', '.join(SCRIPTS)}", file=sys.stderr)
        return 2
    results = {script: run(script) for script in chosen}
    print("\n=== figures ===")
    for script, figures in results.items():
        shown = "FAILED" if figures is None else json.dumps(figures) if figures else "(printed above)"
        print(f"{script}: {shown}")
    return 0 if all(figures is not None for figures in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
