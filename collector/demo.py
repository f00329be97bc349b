"""``runwatch demo``: the service plus three simulated training jobs that show what it is for.

- ``healthy``: loss falls, accuracy rises, the run finishes.
- ``diverging``: loss grows until it becomes NaN (the NaN rule fires), then the job fails.
- ``killed``: a job killed mid-way with SIGKILL, so it cannot say so itself: its heartbeats
  stop, the stall detector marks it ``lost`` and the heartbeat rule fires.

Alerts go to the console unless ``$RUNWATCH_HOME/alerts.yaml`` says otherwise.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time

from rich.console import Console
from rich.live import Live
from rich.table import Table

from .settings import Settings

JOBS = ("healthy", "diverging", "killed")
DEMO_RULES = """
rules:
  - {name: loss-not-finite, metric: loss, condition: nonfinite, severity: critical}
  - {name: run-ended-badly, on: status, status: [failed, killed, lost], severity: error}
  - {name: heartbeat-lost, on: heartbeat_lost, after: 8s, severity: critical}
  - {name: from-code, on: user_alert}
"""


def simulate(kind: str, steps: int = 200, delay: float = 0.05) -> None:
    """One simulated training job (runs in its own process, like a real one)."""
    import emitter

    rng = random.Random(kind)
    lr = {"healthy": 3e-4, "diverging": 3e-1, "killed": 1e-3}[kind]
    config = {"lr": lr, "batch_size": 128, "model": "resnet18"}
    with emitter.init(project="demo", name=f"demo-{kind}", config=config, tags=["demo", kind]) as run:
        loss = 2.5
        for step in range(steps):
            if kind == "diverging" and step > steps // 3:
                loss = loss * 1.35 if math.isfinite(loss) and loss < 1e6 else float("nan")
            else:
                loss = max(0.05, loss * (0.985 + rng.random() * 0.01))
            acc = max(0.0, min(1.0, 1.0 - loss / 2.6 + rng.random() * 0.02))
            run.log({"loss": loss, "acc": acc, "lr": lr}, step=step)
            if kind == "diverging" and math.isnan(loss):
                run.alert("loss is NaN", f"step {step}: loss diverged to NaN", level="critical")
                raise FloatingPointError(f"loss is NaN at step {step}")
            time.sleep(delay)


def run_demo(settings: Settings, *, duration: float, console: Console) -> None:
    """Serve, launch the three jobs against it, show a live table of runs."""
    from alerts import parse_rules

    from .alerting import load_ruleset
    from .service import Service

    path = settings.alerts_path
    ruleset = load_ruleset(path) if path.exists() else parse_rules(DEMO_RULES, source="<demo rules>")
    service = Service(settings.model_copy(update={"lost_after": 8.0}), with_api=True, ruleset=ruleset)
    url = service.resolve_redis()
    console.print(f"[bold]runwatch demo[/]: redis {url}, data in {settings.home}")
    console.print(f"dashboard: http://{settings.host}:{settings.port}   (Ctrl-C to stop)")
    env = dict(os.environ, RUNWATCH_REDIS_URL=url, RUNWATCH_HOME=str(settings.home), RUNWATCH_PREFIX=settings.prefix)
    env["RUNWATCH_HEARTBEAT_INTERVAL"] = "2"
    thread = threading.Thread(target=lambda: asyncio.run(service.run()), name="runwatch-service", daemon=True)
    thread.start()
    jobs = {
        kind: subprocess.Popen(
            [sys.executable, "-c", f"from collector.demo import simulate; simulate({kind!r})"],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        for kind in JOBS
    }
    started = time.monotonic()
    try:
        with Live(console=console, refresh_per_second=4) as live:
            while True:
                elapsed = time.monotonic() - started
                killed = jobs["killed"]
                if elapsed > 6 and killed.poll() is None:
                    killed.send_signal(signal.SIGKILL)
                live.update(_table(service))
                if duration and elapsed > duration:
                    break
                time.sleep(0.25)
    except KeyboardInterrupt:
        pass
    finally:
        for job in jobs.values():
            if job.poll() is None:
                job.terminate()
            job.wait()
        service.stop.set()
        thread.join(15)
    console.print("demo stopped; `runwatch runs` lists what was recorded, `runwatch alerts` what fired")


def _table(service: object) -> Table:
    table = Table(title="runwatch demo — runs")
    for column in ("name", "status", "step", "loss", "acc"):
        table.add_column(column)
    store = getattr(service, "store", None)
    if store is None:
        return table
    try:
        runs = store.runs.recent(project="demo", limit=10)
    except Exception:  # noqa: BLE001 - the service may be starting
        return table
    for run in runs:
        loss = run.metrics.get("loss")
        acc = run.metrics.get("acc")
        table.add_row(
            run.name,
            run.status,
            str(run.last_step),
            "-" if loss is None else f"{loss.last:.4g}",
            "-" if acc is None else f"{acc.last:.3f}",
        )
    return table
