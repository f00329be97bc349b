"""Fixtures: every test gets its own Redis (or its own key prefix), home and database.

The store is SQLite in the test's home. A module marked ``every_backend`` runs each test
that uses the store (through ``store``, ``settings`` or ``emitter_env``) once per backend,
``[sqlite]`` and ``[postgres]``: PostgreSQL in a database of the session's own,
emptied between tests (``tests/stores.py``).

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
from tests.stores import BACKENDS, PostgresDatabase


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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``every_backend``: each of ``BACKENDS``, or of the backends the marker names (``every_backend("sqlite")``)."""
    marker = metafunc.definition.get_closest_marker("every_backend")
    if "store_backend" in metafunc.fixturenames and marker is not None:
        metafunc.parametrize("store_backend", marker.args or BACKENDS, indirect=True)


@pytest.fixture
def store_backend(request: pytest.FixtureRequest) -> str:
    """The store backend of this test: SQLite, or each of ``BACKENDS`` in a module marked ``every_backend``."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def postgres_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresDatabase]:
    """The session's own PostgreSQL database (created on first use, dropped at the end)."""
    database = PostgresDatabase(tmp_path_factory.mktemp("postgres"))
    yield database
    database.drop()


@pytest.fixture
def database_url(store_backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """RUNWATCH_DATABASE_URL of this test: None for SQLite; the session's emptied PostgreSQL database otherwise.

    Set in the environment too, so the CLI and the processes a test starts use the same store.
    """
    if store_backend == "sqlite":
        monkeypatch.delenv("RUNWATCH_DATABASE_URL", raising=False)  # not a developer's own, from their shell
        return None
    database: PostgresDatabase = request.getfixturevalue("postgres_database")
    database.truncate()
    monkeypatch.setenv("RUNWATCH_DATABASE_URL", database.url)
    return database.url


@pytest.fixture(autouse=True)
def _system_sampler_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """System metrics are on by default: every run of the suite starts and stops its sampler, but one
    sample an hour keeps them out of tests that count series; tests of the sampler set their own interval."""
    monkeypatch.setenv("RUNWATCH_SYSTEM_INTERVAL", "3600")


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
def emitter_env(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, prefix: str, home: Path, database_url: str | None
) -> dict[str, str]:
    """Environment for emitters (and collector processes) of this test (also applied to this process)."""
    env = {
        "RUNWATCH_REDIS_URL": redis_url,
        "RUNWATCH_PREFIX": prefix,
        "RUNWATCH_HOME": str(home),
        "RUNWATCH_FLUSH_TIMEOUT": "20",
    }
    if database_url is not None:
        env["RUNWATCH_DATABASE_URL"] = database_url
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return {**os.environ, **env}


@pytest.fixture
def settings(redis_url: str, prefix: str, home: Path, database_url: str | None):
    from collector.settings import Settings

    return Settings(
        redis_url=redis_url,
        prefix=prefix,
        home=home,
        database_url=database_url,
        consumer_name="test-consumer",
        claim_idle_ms=2000,
        claim_interval=0.5,
        trim_interval=0.5,
        stream_retention_seconds=0,
        block_ms=100,
    )


@pytest.fixture
def store(settings, store_backend: str):
    """The test's store: SQLite in its home, or the session's PostgreSQL database, emptied."""
    if store_backend == "postgres":
        from collector.store.postgres import PostgresStore

        s: Any = PostgresStore(settings.database_url, pool_size=4)
    else:
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
