"""What recording data versions costs init() and the training loop, on a large DVC repository.

Generates a repository with ``--dvc-files`` ``.dvc`` files (100 per folder) and a
``dvc.lock`` of ``--stages`` stages (two deps and two outs each), then measures, against a
private redis-server:

- ``init()`` in the repository with provenance and without it (the baseline: the hook
  replaced by a no-op), median of ``--repeat`` runs each, alternating;
- provenance's own work inside ``init()`` (orchestrator tags, starting its thread);
- 2,000 ``log()`` calls made right after ``init()`` (while the collection runs) against
  the same calls in the baseline: what the training thread feels;
- ``init()`` → ``finish()`` (which waits for the data versions) and the collection alone.

    .venv/bin/python bench/bench_provenance.py [--dvc-files 5000] [--stages 500] [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_pipeline import start_redis  # noqa: E402

LOGS = 2_000


def make_repo(root: Path, dvc_files: int, stages: int) -> None:
    (root / ".dvc").mkdir(parents=True)
    (root / ".dvc" / "config").write_text("[core]\n    remote = s3\n['remote \"s3\"']\n    url = s3://bucket/dvc\n")
    for i in range(dvc_files):
        folder = root / "data" / f"part{i // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"shard{i:05d}.bin.dvc").write_text(
            f"outs:\n- md5: {i:032x}\n  size: {1000 + i}\n  hash: md5\n  path: shard{i:05d}.bin\n"
        )
    lines = ["schema: '2.0'", "stages:"]
    for s in range(stages):
        lines += [f"  stage{s}:", f"    cmd: python step.py {s}", "    deps:"]
        for d in range(2):
            lines += [
                f"    - path: in/{s}/{d}.csv",
                "      hash: md5",
                f"      md5: {s * 10 + d:032x}",
                "      size: 10",
            ]
        lines.append("    outs:")
        for d in range(2):
            lines += [
                f"    - path: out/{s}/{d}.csv",
                "      hash: md5",
                f"      md5: {s * 10 + d + 5:032x}",
                "      size: 9",
            ]
    (root / "dvc.lock").write_text("\n".join(lines) + "\n")


class _NoProvenance:
    """The baseline: init() with the provenance hook replaced by one that does nothing."""

    @classmethod
    def start(cls, config: object, data: object, emit: object) -> _NoProvenance:
        return cls()

    def wait(self, timeout: float) -> bool:
        return True


def startup(folder: Path, repeat: int) -> dict[str, list[float]]:
    """init ms, ms for LOGS log() calls right after init, and init → finish ms; with and without provenance.

    The two kinds of run alternate, so a machine busy with something else slows both alike.
    """
    import emitter
    import emitter.run as run_module
    from emitter._provenance import Provenance

    os.chdir(folder)
    out: dict[str, list[float]] = {k: [] for k in ("init", "logs", "end", "base_init", "base_logs", "base_end")}
    for i in range(repeat * 2):
        baseline = i % 2 == 0
        setattr(run_module, "Provenance", _NoProvenance if baseline else Provenance)  # noqa: B010 - the hook, swapped
        prefix = "base_" if baseline else ""
        started = time.perf_counter()
        run = emitter.init("bench-provenance", name=f"r{i}", config={"lr": 0.1, "data": "data"})
        inited = time.perf_counter()
        for step in range(LOGS):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
        logged = time.perf_counter()
        run.finish()  # waits for the data versions (at most 3 s)
        done = time.perf_counter()
        out[prefix + "init"].append((inited - started) * 1e3)
        out[prefix + "logs"].append((logged - inited) * 1e3)
        out[prefix + "end"].append((done - started) * 1e3)
    setattr(run_module, "Provenance", Provenance)  # noqa: B010
    return out


def sync_cost_ms(folder: Path, repeat: int = 200) -> float:
    """What init() itself does for provenance, per call: orchestrator tags and starting the thread."""
    from emitter._orchestrators import orchestrator_info, orchestrator_tags
    from emitter._provenance import Provenance

    os.chdir(folder)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        orchestrator_tags(orchestrator_info(os.environ))
        thread = Provenance.start({"lr": 0.1, "data": "data"}, None, lambda params: None)
        times.append((time.perf_counter() - started) * 1e3)
        thread.wait(60)  # not timed: one collection at a time, as one init() has
    return statistics.median(times)


def collect_ms(folder: Path, repeat: int) -> list[float]:
    from emitter._provenance import Provenance

    os.chdir(folder)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = Provenance({}, None, lambda params: None).collect()
        times.append((time.perf_counter() - started) * 1e3)
    files = len(result.get("dvc", {}).get("files", {}))
    print(f"  collected {files} tracked paths")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dvc-files", type=int, default=5000)
    parser.add_argument("--stages", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-provenance-") as tmp:
        base = Path(tmp)
        redis_process, url = start_redis(base / "redis", appendonly=False)
        os.environ.update({"RUNWATCH_REDIS_URL": url, "RUNWATCH_HOME": str(base / "home")})
        try:
            repo = base / "repo"
            make_repo(repo, args.dvc_files, args.stages)
            print(
                f"repository: {args.dvc_files} .dvc files, dvc.lock of {args.stages} stages ({args.stages * 4} entries)"
            )
            figures = startup(repo, args.repeat)
            sync = sync_cost_ms(repo, 20)
            print("collection alone (main thread):")
            c = collect_ms(repo, 3)
        finally:
            redis_process.terminate()
            redis_process.wait()
    med = statistics.median
    f = {k: med(v) for k, v in figures.items()}
    print(f"init() without provenance (baseline)      median {f['base_init']:7.2f} ms")
    print(
        f"init() with provenance                    median {f['init']:7.2f} ms   ({f['init'] - f['base_init']:+.2f} ms)"
    )
    print(f"  of which provenance's own work at init  {sync:7.3f} ms median (orchestrator tags, thread start)")
    print(f"{LOGS} log() after init, baseline         median {f['base_logs']:7.2f} ms")
    print(
        f"{LOGS} log() after init, while collecting median {f['logs']:7.2f} ms   ({f['logs'] - f['base_logs']:+.2f} ms)"
    )
    print(f"init() → finish(), baseline               median {f['base_end']:7.2f} ms")
    print(f"init() → finish(), data versions recorded median {f['end']:7.2f} ms   ({f['end'] - f['base_end']:+.2f} ms)")
    print(f"collection on its own (main thread)       median {med(c):7.2f} ms")


if __name__ == "__main__":
    main()
