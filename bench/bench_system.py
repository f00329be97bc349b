"""What one system-metrics sample costs in CPU: the emitter's /proc probes beside psutil's equivalent calls.

    .venv/bin/python bench/bench_system.py [--samples 2000] [--rounds 5]

The emitter samples on its own thread (never the training thread), every 10 s by default, so
what a sample costs the job is its CPU time: the figure here is ``time.thread_time`` per sample
(median of rounds of ``--samples`` samples; the rounds alternate the two sides, so drift on a
shared machine hits both). Baseline: psutil (when installed) reading the same things — host and
process CPU percent, process RSS, host memory, disk space of the working directory, disk and
network counters — as a psutil-based sampler would (W&B's system monitor is psutil-based). GPUs
are left out of both (NVML's cost is NVIDIA's, the same for either). The last line is ``JSON: {...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emitter._cgroup import CgroupLimits  # noqa: E402
from emitter._probes import DiskIo, DiskSpace, HostCpu, HostMemory, Network, Probe, ProcessUsage  # noqa: E402


def ours() -> Callable[[], int]:
    """One sample of the emitter's probes (GPU left out); returns how many values it read."""
    probes: list[Probe] = [
        HostCpu(),
        ProcessUsage(),
        HostMemory(),
        CgroupLimits(),
        DiskSpace(os.getcwd()),
        DiskIo(),
        Network(),
    ]
    now = [0.0]

    def sample() -> int:
        now[0] += 10.0
        values: dict[str, float] = {}
        for probe in probes:
            values.update(probe.sample(now[0]))
        return len(values)

    return sample


def psutil_side() -> Callable[[], int] | None:
    """The same readings through psutil, or None when psutil is not installed."""
    try:
        import psutil
    except ImportError:
        return None
    process = psutil.Process()
    cwd = os.getcwd()

    def sample() -> int:
        memory = psutil.virtual_memory()
        disk = psutil.disk_usage(cwd)
        io = psutil.disk_io_counters()
        net = psutil.net_io_counters()
        values = [
            psutil.cpu_percent(None),
            process.cpu_percent(None),
            process.memory_info().rss,
            memory.total,
            memory.available,
            memory.used,
            memory.percent,
            disk.percent,
            disk.free,
            0 if io is None else io.read_bytes,
            0 if io is None else io.write_bytes,
            net.bytes_recv,
            net.bytes_sent,
        ]
        return len(values)

    return sample


def per_sample_us(sample: Callable[[], int], count: int) -> float:
    sample()  # the rates' baseline, file handles warmed
    started = time.thread_time()
    for _ in range(count):
        sample()
    return (time.thread_time() - started) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    sides: dict[str, Callable[[], int]] = {"runwatch /proc probes": ours()}
    baseline = psutil_side()
    if baseline is not None:
        import psutil

        sides[f"psutil {psutil.__version__}"] = baseline
    figures: dict[str, list[float]] = {name: [] for name in sides}
    for round_ in range(args.rounds):
        order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
        for name in order:
            figures[name].append(per_sample_us(sides[name], args.samples))
    values = {name: sides[name]() for name in sides}
    print(f"CPU time per sample (thread_time), median of {args.rounds} rounds x {args.samples} samples:")
    medians = {name: statistics.median(runs) for name, runs in figures.items()}
    for name, median in medians.items():
        print(f"  {name:<24} {median:8.1f} µs  ({values[name]} values)")
    if baseline is None:
        print("  psutil is not installed: no baseline in this run")
    interval = 10.0
    ours_us = medians["runwatch /proc probes"]
    print(f"at the default {interval:.0f} s interval: {ours_us / interval / 1e4:.5f} % of one core")
    print("JSON: " + json.dumps({"us_per_sample": {k: round(v, 1) for k, v in medians.items()}}))


if __name__ == "__main__":
    main()
