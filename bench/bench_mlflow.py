"""The same MLflow client script against a real `mlflow server` (SQLite) and against `runwatch serve`.

One run, N steps x 10 metrics through `mlflow.log_metrics`, once synchronous and once with
MLFLOW_ENABLE_ASYNC_LOGGING=true, each server fresh: wall time (until `end_run` returned, so
async logging has flushed), points/s, p50/p99 of the logging call, and the server's peak RSS
(runwatch: the serve process, and its Redis apart). Then the NaN-alert latency through this
path: `mlflow.log_metric("loss", nan)` called -> the (fake) Slack webhook receiving the POST.

    .venv/bin/python bench/bench_mlflow.py [--steps 1000] [--big]   # --big: 20,000 steps

The real server runs from its own venv (full `mlflow`, never the shared one): --mlflow-venv,
created with `python -m venv DIR && DIR/bin/pip install "mlflow>=3,<4"` when missing
(default $XDG_CACHE_HOME/runwatch-bench/mlflow-venv). The client is the shared venv's
`mlflow-skinny`, the same for both servers.
"""

from __future__ import annotations

import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_pipeline import count_points, start_redis  # noqa: E402
from tests.alerts.fake_slack import FakeSlack  # noqa: E402
from tests.helpers import free_port  # noqa: E402

ALERTS = 50
CLIENT = """
import json, sys, time, mlflow
steps = int(sys.argv[1])
mlflow.set_experiment("bench")
latencies = []
start = time.perf_counter()
with mlflow.start_run() as run:
    for step in range(steps):
        called = time.perf_counter()
        mlflow.log_metrics({f"m{i}": step * 1e-3 + i for i in range(10)}, step=step)
        latencies.append(time.perf_counter() - called)
wall = time.perf_counter() - start
print(json.dumps({"wall": wall, "latencies": latencies, "run_id": run.info.run_id}))
"""


def default_venv() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "runwatch-bench" / "mlflow-venv"


def ensure_mlflow(venv: Path) -> Path:
    binary = venv / "bin" / "mlflow"
    if not binary.exists():
        print(f"installing mlflow into {venv} (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "mlflow>=3,<4"], check=True)
    return binary


def rss_tree(pid: int) -> int:
    """Resident bytes of a process and its descendants (gunicorn/uvicorn workers included)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(child) for child in children)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


class PeakRss:
    """Samples a process tree's RSS every 100 ms; ``peak`` is the largest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_tree(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, rss_tree(self.pid))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def wait_http(url: str, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


def run_client(url: str, steps: int, asynchronous: bool) -> dict[str, float]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": url, "MLFLOW_ENABLE_ASYNC_LOGGING": str(asynchronous).lower()}
    out = subprocess.run([sys.executable, "-c", CLIENT, str(steps)], env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    latencies = sorted(result["latencies"])
    return {
        "wall_s": result["wall"],
        "points_per_s": steps * 10 / result["wall"],
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "run_id": result["run_id"],
    }


def bench_mlflow_server(binary: Path, steps: int, asynchronous: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        port = free_port()
        server = subprocess.Popen(
            [str(binary), "server", "--backend-store-uri", f"sqlite:///{directory}/mlflow.db",
             "--artifacts-destination", f"{directory}/artifacts", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            # MLflow 3's job runners (9 huey processes, ~2 GB) serve its GenAI features, not tracking
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            wait_http(f"{url}/health")
            rss = PeakRss(server.pid)
            result = run_client(url, steps, asynchronous)
            result["server_rss_mb"] = rss.stop() / 2**20
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(20)
    return result


def start_runwatch(
    tmp: Path, rules: str | None = None
) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], str, Path]:
    redis_process, redis_url = start_redis(tmp / "redis")
    home = tmp / "home"
    home.mkdir()
    port = free_port()
    env = {**os.environ, "RUNWATCH_REDIS_URL": redis_url, "RUNWATCH_PREFIX": "bench", "RUNWATCH_HOME": str(home)}
    if rules is not None:
        (tmp / "alerts.yaml").write_text(rules)
        env["RUNWATCH_ALERTS"] = str(tmp / "alerts.yaml")
    server = subprocess.Popen(
        [sys.executable, "-m", "collector", "serve", "--port", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/readyz")
    return server, redis_process, url, home


def bench_runwatch(steps: int, asynchronous: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        server, redis_process, url, home = start_runwatch(Path(directory))
        try:
            rss, redis_rss = PeakRss(server.pid), PeakRss(redis_process.pid)
            result = run_client(url, steps, asynchronous)
            result["server_rss_mb"] = rss.stop() / 2**20
            result["redis_rss_mb"] = redis_rss.stop() / 2**20
            result["stored_points"] = count_points(home / "runwatch.db")
        finally:
            server.terminate()
            server.wait(20)
            redis_process.kill()
    return result


def nan_alert_latency() -> dict[str, float]:
    """``mlflow.log_metric(nan)`` called -> Slack POST received, ``ALERTS`` times (each a new episode)."""
    import mlflow

    with tempfile.TemporaryDirectory() as directory, FakeSlack() as slack:
        rules = (
            f'channels: {{slack: {{type: slack, webhook_url: "{slack.webhook_url}"}}}}\n'
            "rules: [{name: loss-nan, metric: loss, condition: nonfinite, notify: [slack]}]\n"
        )
        server, redis_process, url, _ = start_runwatch(Path(directory), rules)
        try:
            mlflow.set_tracking_uri(url)
            mlflow.set_experiment("alerts")
            latencies = []
            with mlflow.start_run():
                for i in range(ALERTS):
                    called = time.time()
                    mlflow.log_metric("loss", math.nan, step=2 * i)
                    received = slack.wait_for(i + 1, timeout=30)[i].received_at
                    latencies.append((received - called) * 1000)
                    mlflow.log_metric("loss", 1.0, step=2 * i + 1)  # resolves: the next NaN is a new episode
        finally:
            server.terminate()
            server.wait(20)
            redis_process.kill()
    latencies.sort()
    return {"p50_ms": statistics.median(latencies), "p99_ms": latencies[int(len(latencies) * 0.99) - 1]}


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="steps of 10 metrics (default 1,000: about 3 minutes)")
    parser.add_argument("--big", action="store_true", help="20,000 steps (the issue's workload)")
    parser.add_argument("--mlflow-venv", type=Path, default=default_venv(), help="venv holding the full mlflow")
    args = parser.parse_args()
    steps = 20_000 if args.big else args.steps
    binary = ensure_mlflow(args.mlflow_venv)
    results: dict[str, dict[str, float]] = {}
    print(f"{steps:,} steps x 10 metrics through mlflow.log_metrics, one run")
    header = f"{'server':<24}{'mode':<7}{'wall s':>8}{'points/s':>11}{'p50 ms':>8}{'p99 ms':>8}{'RSS MB':>8}"
    print(header)
    for asynchronous in (False, True):
        mode = "async" if asynchronous else "sync"
        for name, bench in (("mlflow server (sqlite)", bench_mlflow_server), ("runwatch serve", None)):
            result = bench_runwatch(steps, asynchronous) if bench is None else bench(binary, steps, asynchronous)
            results[f"{name}/{mode}"] = result
            extra = f"  (+ redis {result['redis_rss_mb']:.0f} MB)" if "redis_rss_mb" in result else ""
            print(
                f"{name:<24}{mode:<7}{result['wall_s']:>8.1f}{result['points_per_s']:>11,.0f}"
                f"{result['p50_ms']:>8.2f}{result['p99_ms']:>8.2f}{result['server_rss_mb']:>8.0f}{extra}",
                flush=True,
            )
            if "stored_points" in result and result["stored_points"] != steps * 10:
                print(f"  !! runwatch stored {result['stored_points']:,} points, expected {steps * 10:,}")
        ours, theirs = results[f"runwatch serve/{mode}"], results[f"mlflow server (sqlite)/{mode}"]
        print(f"  {mode}: runwatch / mlflow server points/s = {ours['points_per_s'] / theirs['points_per_s']:.2f}x")
    alert = nan_alert_latency()
    results["nan_alert"] = alert
    print(f"NaN alert through the MLflow API, log_metric called -> Slack received, {ALERTS} alerts:")
    print(f"  p50 {alert['p50_ms']:.1f} ms, p99 {alert['p99_ms']:.1f} ms (target p99 <= 100 ms)")
    print("JSON: " + json.dumps(results, default=str))


if __name__ == "__main__":
    main()
