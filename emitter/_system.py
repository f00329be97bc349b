"""The system sampler: CPU, memory, disk, network and GPU values every few seconds, on a thread of its own.

On by default (``emitter.init(system_metrics=False)`` turns it off, ``RUNWATCH_SYSTEM_INTERVAL``
sets the period in seconds, default 10; ``0`` turns it off too). The training thread only starts
it: the probes are built, read and timed on the sampler's daemon thread, which ``finish()``
stops. Values go out as ``system`` events (the same shape as ``metrics``, names under
``system/``), so the store, alert rules, live charts and exporter take them like metrics.

The first reading only sets the baseline of the rates, so every sample sent carries the same
keys (a job shorter than one interval sends none). A probe that fails is said once (a log
warning) and counted in ``failures``; the others go on, and nothing reaches the training code.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence

from ._cgroup import CgroupLimits
from ._gpu import Gpus, open_gpus
from ._probes import DiskIo, DiskSpace, HostCpu, HostMemory, Network, Probe, ProcessUsage

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL = 10.0
_STOP_TIMEOUT = 2.0


def system_interval(enabled: bool | None = None) -> float | None:
    """The sampling period from ``RUNWATCH_SYSTEM_INTERVAL`` (default 10 s), or None when sampling is off."""
    if enabled is False:
        return None
    raw = os.environ.get("RUNWATCH_SYSTEM_INTERVAL", "").strip()
    if not raw:
        return DEFAULT_INTERVAL
    try:
        interval = float(raw)
    except ValueError:
        logger.warning(
            "runwatch: RUNWATCH_SYSTEM_INTERVAL=%r is not a number of seconds; sampling every %ss",
            raw,
            DEFAULT_INTERVAL,
        )
        return DEFAULT_INTERVAL
    if interval != interval or interval < 0:
        logger.warning("runwatch: RUNWATCH_SYSTEM_INTERVAL=%r is not >= 0; sampling every %ss", raw, DEFAULT_INTERVAL)
        return DEFAULT_INTERVAL
    return interval or None


def default_probes() -> list[Probe]:
    """Every probe this machine offers: host and process CPU and memory, cgroup limits, disk, network, GPUs."""
    try:
        workdir = os.getcwd()
    except OSError:  # the working directory was removed under the job
        workdir = os.sep
    probes: list[Probe] = [
        HostCpu(),
        ProcessUsage(),
        HostMemory(),
        CgroupLimits(),
        DiskSpace(workdir),
        DiskIo(),
        Network(),
    ]
    gpus = open_gpus()
    if gpus is not None:
        probes.append(gpus)
    return probes


class SystemSampler:
    """Samples ``probes`` every ``interval`` seconds on a daemon thread and hands each sample to ``emit``.

    >>> sampler = SystemSampler(print, interval=10.0)
    >>> sampler.start()       # the probes are opened on the sampler's own thread
    >>> sampler.stop()        # at finish(); a sample in progress completes first
    """

    def __init__(
        self,
        emit: Callable[[dict[str, float]], None],
        interval: float = DEFAULT_INTERVAL,
        probes: Callable[[], Sequence[Probe]] = default_probes,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._emit = emit
        self._make_probes = probes
        self._clock = clock
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.samples = 0
        self.failures: dict[str, int] = {}  # probe name (or "emit") → how many times it failed

    def __repr__(self) -> str:
        failed = ",".join(f"{name}:{count}" for name, count in sorted(self.failures.items())) or "none"
        return f"<SystemSampler interval={self.interval}s samples={self.samples} failures={failed}>"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="runwatch-system", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = _STOP_TIMEOUT) -> None:
        """Stop sampling; waits (at most ``timeout``) so that no sample follows the run's end."""
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # ------------------------------------------------------------------ thread

    def _loop(self) -> None:
        try:
            probes = list(self._make_probes())
        except Exception as problem:  # noqa: BLE001 - never let the sampler break the job
            self._failed("probes", problem)
            return
        try:
            self._read(probes)  # baseline of the rates: nothing is sent
            while not self._stopping.wait(self.interval):
                values = self._read(probes)
                if values:
                    self._send(values)
        finally:
            for probe in probes:
                if isinstance(probe, Gpus):
                    probe.close()

    def _read(self, probes: Sequence[Probe]) -> dict[str, float]:
        values: dict[str, float] = {}
        now = self._clock()
        for probe in probes:
            try:
                values.update(probe.sample(now))
            except Exception as problem:  # noqa: BLE001 - one probe's fault leaves the others sampling
                self._failed(probe.name, problem)
        return values

    def _send(self, values: dict[str, float]) -> None:
        try:
            self._emit(values)
        except Exception as problem:  # noqa: BLE001
            self._failed("emit", problem)
            return
        self.samples += 1

    def _failed(self, name: str, problem: Exception) -> None:
        count = self.failures.get(name, 0) + 1
        self.failures[name] = count
        if count == 1:
            logger.warning(
                "runwatch: system metrics: %s failed (%s: %s); its values are left out (said once, counted)",
                name,
                type(problem).__name__,
                problem,
            )


def start_sampler(enabled: bool | None, emit: Callable[[dict[str, float]], None]) -> SystemSampler | None:
    """A started sampler for a new run, or None when system metrics are off."""
    interval = system_interval(enabled)
    if interval is None:
        return None
    sampler = SystemSampler(emit, interval)
    sampler.start()
    return sampler
