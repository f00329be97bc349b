"""What the W&B-shaped surface costs a ``log()`` call: ``WandbRun.log`` (what ``emitter.init()`` returns) beside ``Run.log``.

    .venv/bin/python bench/bench_wandb.py [--calls 20000] [--rounds 7] [--keys 10]

Both runs point at a Redis that does not answer (their sender threads spool in the background),
so the figure is the training thread's own: ``time.thread_time`` per call of ``log()`` with
``--keys`` float values, median of rounds that alternate the two. The difference is the shim's
price on the fast path (its ``log`` and ``_emit`` layers and the summary's last-value update);
system metrics are off in both. The last line is ``JSON: {...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["RUNWATCH_SYSTEM_INTERVAL"] = "0"
os.environ["RUNWATCH_FLUSH_TIMEOUT"] = "1"

import emitter  # noqa: E402
from emitter.run import Run  # noqa: E402


def _dead_redis_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"redis://127.0.0.1:{sock.getsockname()[1]}/0"


def per_call_us(run: Run, values: dict[str, float], calls: int) -> float:
    started = time.thread_time()
    for _ in range(calls):
        run.log(values)
    return (time.thread_time() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--keys", type=int, default=10)
    args = parser.parse_args()
    values = {f"metric_{i}": 0.5 for i in range(args.keys)}
    url = _dead_redis_url()
    with tempfile.TemporaryDirectory() as home:
        plain = Run("bench", redis_url=url, home=f"{home}/plain", max_queue=10**8)
        shim = emitter.init("bench", redis_url=url, home=f"{home}/shim", max_queue=10**8)
        sides: dict[str, Run] = {"Run.log": plain, "WandbRun.log": shim}
        figures: dict[str, list[float]] = {name: [] for name in sides}
        for round_ in range(args.rounds):
            for name in list(sides) if round_ % 2 == 0 else list(reversed(sides)):
                figures[name].append(per_call_us(sides[name], values, args.calls))
        medians = {name: statistics.median(runs) for name, runs in figures.items()}
        print(f"training-thread CPU per log() of {args.keys} floats, median of {args.rounds} rounds x {args.calls}:")
        for name, median in medians.items():
            print(f"  {name:<14} {median:6.2f} µs")
        print(f"  shim's price  {medians['WandbRun.log'] - medians['Run.log']:+6.2f} µs")
        print("JSON: " + json.dumps({"us_per_call": {k: round(v, 2) for k, v in medians.items()}}))
        sys.stdout.flush()
        os._exit(0)  # the spooled runs are of no use: skip their drains


if __name__ == "__main__":
    main()
