"""``runwatch demo``: the service plus four simulated training jobs that show what it is for.

- ``healthy``: loss falls, accuracy rises, the run finishes (after 200 steps, about 10 s).
- ``diverging``: loss grows until it becomes NaN (the NaN rule fires), then the job fails.
- ``killed``: a job killed mid-way with SIGKILL, so it cannot say so itself: its heartbeats
  stop, the stall detector marks it ``lost`` and the heartbeat rule fires.
- ``live``: a healthy job that never ends, so whoever opens the dashboard sees charts grow; the
  demo stops it (SIGTERM: the run is recorded ``killed``) when the demo itself stops.

The demo stops on Ctrl-C, on SIGTERM, or after ``--duration`` seconds, and then leaves nothing
behind: the jobs are stopped, the service shuts down, and the embedded Redis it started is stopped.
Alerts go to the console unless ``$RUNWATCH_HOME/alerts.yaml`` says otherwise.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from rich.console import Console
from rich.live import Live
from rich.table import Table

from .redact import redact_url
from .settings import Settings

if TYPE_CHECKING:  # the jobs import this module too: they need none of the service's dependencies
    from .service import Service

JOBS = ("healthy", "diverging", "killed", "live")
LIVE_DELAY = 0.1  # seconds between steps of the endless job: a chart that visibly grows, at little cost
DEMO_RULES = """
rules:
  - {name: loss-not-finite, metric: loss, condition: nonfinite, severity: critical}
  - {name: run-ended-badly, on: status, status: [failed, killed, lost], severity: error}
  - {name: heartbeat-lost, on: heartbeat_lost, after: 8s, severity: critical}
  - {name: from-code, on: user_alert}
"""


def simulate(kind: str, steps: int = 200, delay: float = 0.05) -> None:
    """One simulated training job (runs in its own process, like a real one); ``live`` never ends by itself."""
    import emitter

    rng = random.Random(kind)
    lr = {"healthy": 3e-4, "diverging": 3e-1, "killed": 1e-3, "live": 1e-3}[kind]
    config = {"lr": lr, "batch_size": 128, "model": "resnet18"}
    with emitter.init(project="demo", name=f"demo-{kind}", config=config, tags=["demo", kind]) as run:
        if kind == "live":
            _log_forever(run, lr, rng)
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


def _log_forever(run: Any, base_lr: float, rng: random.Random) -> NoReturn:
    """The endless job: a step every LIVE_DELAY seconds until the demo stops it."""
    for step in itertools.count():
        run.log(_live_point(step, base_lr, rng), step=step)
        time.sleep(LIVE_DELAY)
    raise AssertionError("unreachable: itertools.count() never ends")


def _live_point(step: int, base_lr: float, rng: random.Random) -> dict[str, float]:
    """An endless run's metrics: loss decays towards a floor with noise, lr follows 1,000-step cosine cycles."""
    loss = 0.25 + 2.25 * math.exp(-step / 400) + rng.gauss(0, 0.03)
    acc = max(0.0, min(1.0, 0.97 - 0.85 * math.exp(-step / 300) + rng.gauss(0, 0.01)))
    lr = base_lr * (0.55 + 0.45 * math.cos(math.pi * (step % 1000) / 1000))
    return {"loss": loss, "acc": acc, "lr": lr}


def run_demo(settings: Settings, *, duration: float, console: Console) -> None:
    """Serve, launch the jobs against it, show a live table of runs; stop everything on Ctrl-C, SIGTERM or duration."""
    from alerts import parse_rules

    from .alerting import load_ruleset
    from .service import Service

    path = settings.alerts_path
    ruleset = load_ruleset(path) if path.exists() else parse_rules(DEMO_RULES, source="<demo rules>")
    service = Service(settings.model_copy(update={"lost_after": 8.0}), with_api=True, ruleset=ruleset)
    jobs: dict[str, subprocess.Popen[bytes]] = {}
    runner = _ServiceThread(service)
    with _sigterm_interrupts():
        try:
            url = service.resolve_redis()
            console.print(f"[bold]runwatch demo[/]: redis {redact_url(url)}, data in {settings.home}")
            console.print(f"dashboard: http://{settings.host}:{settings.port}   (Ctrl-C to stop)")
            runner.start()
            jobs = _launch(url, settings)
            _watch(service, jobs, duration, console)
        except KeyboardInterrupt:
            pass
        finally:
            _wait_recorded(service, {f"demo-{kind}" for kind in _stop_jobs(jobs)})
            runner.stop()
            if service.embedded is not None:
                service.embedded.stop()  # the service stops it on its way out; this covers a service that never ran
    console.print("demo stopped; `runwatch runs` lists what was recorded, `runwatch alerts` what fired")


class _ServiceThread:
    """The service's event loop in a thread; stop() sets its stop event on that loop (asyncio is not thread-safe)."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, name="runwatch-service", daemon=True)

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.service.run())
        self.loop.close()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self.service.stop.set)
            except RuntimeError:  # closed between the check and the call: it has stopped already
                pass
        if self.thread.is_alive():
            self.thread.join(15)


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM stops the demo as Ctrl-C does (the default would kill it before it stops its jobs and Redis)."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: the clean-up that follows must not be interrupted
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _launch(url: str, settings: Settings) -> dict[str, subprocess.Popen[bytes]]:
    env = dict(os.environ, RUNWATCH_REDIS_URL=url, RUNWATCH_HOME=str(settings.home), RUNWATCH_PREFIX=settings.prefix)
    env["RUNWATCH_HEARTBEAT_INTERVAL"] = "2"
    return {
        kind: subprocess.Popen(
            [sys.executable, "-c", f"from collector.demo import simulate; simulate({kind!r})"],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        for kind in JOBS
    }


def _watch(service: Service, jobs: dict[str, subprocess.Popen[bytes]], duration: float, console: Console) -> None:
    """The live table until the duration is over (forever when it is 0); SIGKILLs the ``killed`` job at 6 s."""
    started = time.monotonic()
    with Live(console=console, refresh_per_second=4) as live:
        while True:
            elapsed = time.monotonic() - started
            killed = jobs["killed"]
            if elapsed > 6 and killed.poll() is None:
                killed.send_signal(signal.SIGKILL)
            live.update(_table(service))
            if duration and elapsed > duration:
                return
            time.sleep(0.25)


def _stop_jobs(jobs: dict[str, subprocess.Popen[bytes]]) -> list[str]:
    """SIGTERM each job still running (its emitter records it ``killed`` and flushes), reap them all; the ones stopped."""
    stopped = [kind for kind, job in jobs.items() if job.poll() is None]
    for kind in stopped:
        jobs[kind].terminate()
    for job in jobs.values():
        try:
            job.wait(20)
        except subprocess.TimeoutExpired:
            job.kill()
            job.wait()
    return stopped


def _wait_recorded(service: Service, names: set[str], timeout: float = 10.0) -> None:
    """Give the collector the time to store how the stopped jobs ended, so their runs say ``killed``, not ``running``."""
    store = service.store
    deadline = time.monotonic() + timeout
    while store is not None and names and time.monotonic() < deadline:
        try:
            runs = store.runs.recent(project="demo", limit=50)
        except Exception:  # noqa: BLE001 - the store may be closing
            return
        if not any(run.name in names and run.status == "running" for run in runs):
            return
        time.sleep(0.1)


def _table(service: Service) -> Table:
    table = Table(title="runwatch demo — runs")
    for column in ("name", "status", "step", "loss", "acc"):
        table.add_column(column)
    store = service.store
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
