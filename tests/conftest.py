"""Fixtures: every test gets its own Redis (or its own key prefix), home and database.

Under RUNWATCH_TEST_STRICT=1 (CI) no test may skip: tests skip through ``skip_unless``,
which fails there, and any other skip is turned into a failure below.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.alerts.fake_slack import FakeSlack, RecordingServer
from tests.alerts.smtp_sink import SmtpSink
from tests.fake_run import FakeRun
from tests.helpers import STRICT, RedisServer, ThreadedCollector


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A skip that bypassed ``skip_unless`` still fails under RUNWATCH_TEST_STRICT=1."""
    report = yield
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        _fail_the_skip(report, item.nodeid)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """A whole module skipped (``pytest.importorskip`` at import, say) fails too."""
    report = yield
    if STRICT and report.skipped:
        _fail_the_skip(report, collector.nodeid)
    return report


def _fail_the_skip(report: pytest.TestReport | pytest.CollectReport, nodeid: str) -> None:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
    report.outcome = "failed"
    report.longrepr = f"RUNWATCH_TEST_STRICT=1 allows no skip, but {nodeid} skipped: {reason}"


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own, so a shared Redis is never touched outside it."""
    return f"rwtest-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server of the test's own (AOF on), killed at the end."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.kill()


@pytest.fixture
def redis_url(prefix: str, tmp_path: Path) -> Iterator[str]:
    """RUNWATCH_TEST_REDIS_URL (with the test's prefix, cleaned after) or a server of our own."""
    given = os.environ.get("RUNWATCH_TEST_REDIS_URL")
    if given:
        yield given
        client = redis.Redis.from_url(given)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
        client.close()
        return
    server = RedisServer(tmp_path / "redis").start()
    yield server.url
    server.kill()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def emitter_env(monkeypatch: pytest.MonkeyPatch, redis_url: str, prefix: str, home: Path) -> dict[str, str]:
    """Environment for emitters of this test (also applied to this process)."""
    env = {
        "RUNWATCH_REDIS_URL": redis_url,
        "RUNWATCH_PREFIX": prefix,
        "RUNWATCH_HOME": str(home),
        "RUNWATCH_FLUSH_TIMEOUT": "20",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return {**os.environ, **env}


@pytest.fixture
def settings(redis_url: str, prefix: str, home: Path):
    from collector.settings import Settings

    return Settings(
        redis_url=redis_url,
        prefix=prefix,
        home=home,
        consumer_name="test-consumer",
        claim_idle_ms=2000,
        claim_interval=0.5,
        trim_interval=0.5,
        stream_retention_seconds=0,
        block_ms=100,
    )


@pytest.fixture
def store(settings):
    from collector.store.sqlite import SQLiteStore

    s = SQLiteStore(settings.sqlite_path)
    yield s
    s.close()


@pytest.fixture
def fake_run(store):
    """Runs written straight into the test's store through its real write path (``tests.fake_run``)."""

    def make(project: str = "cifar", **kwargs: Any) -> FakeRun:
        return FakeRun(store, project, **kwargs)

    return make


@pytest.fixture
def collector(settings, store) -> Iterator[ThreadedCollector]:
    """The real consumer running in a background thread against this test's Redis and store."""
    running = ThreadedCollector(settings, store).start()
    yield running
    running.stop()


@pytest.fixture
def service_factory(settings):
    """Start the whole service (consumer, alerting, delivery, stall detector) with given rules; stopped after."""
    from alerts import parse_rules
    from tests.helpers import ThreadedService

    started: list[ThreadedService] = []

    def start(rules_yaml: str, **overrides: Any) -> ThreadedService:
        service = ThreadedService(settings.model_copy(update=overrides), parse_rules(rules_yaml)).start()
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """A fake Slack (webhooks and Web API) on 127.0.0.1."""
    with FakeSlack() as server:
        yield server


@pytest.fixture
def http_server() -> Iterator[RecordingServer]:
    """A generic recording HTTP server on 127.0.0.1 (webhook channels)."""
    with RecordingServer() as server:
        yield server


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""
    with SmtpSink() as sink:
        yield sink
