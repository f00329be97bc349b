"""Schema migrations: applied in order and once, also when processes start together; --no-migrate refuses a stale schema.

Every test gets a database of its own that no migration has touched yet: a fresh SQLite
file, or a fresh PostgreSQL database on the session's server.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from collector.cli import main
from collector.errors import ConfigError, SchemaBehind, StoreUnavailable
from collector.settings import load_settings
from collector.store import open_store
from tests.helpers import ROOT

pytestmark = pytest.mark.every_backend


@pytest.fixture
def fresh_url(store_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a database no migration has touched."""
    if store_backend == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh' / 'runwatch.db'}"
    return str(request.getfixturevalue("postgres_database").create_database())


def migrations(url: str) -> list[str]:
    store = open_store(load_settings(database_url=url), schema="as-is")
    try:
        return store.pending_migrations()
    finally:
        store.close()


def test_migrate_applies_every_migration_in_order_then_has_nothing_to_apply(fresh_url: str, tmp_path: Path) -> None:
    pending = migrations(fresh_url)
    assert pending and pending == sorted(pending)
    runner = CliRunner()
    check = runner.invoke(main, ["migrate", "--check", "--database-url", fresh_url, "--home", str(tmp_path)])
    assert check.exit_code == 1 and [f"pending {name}" for name in pending] == check.stdout.splitlines()
    first = runner.invoke(main, ["migrate", "--database-url", fresh_url, "--home", str(tmp_path)])
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[:-1] == [f"applied {name}" for name in pending]
    again = runner.invoke(main, ["migrate", "--database-url", fresh_url, "--home", str(tmp_path)])
    assert again.exit_code == 0 and "nothing to apply" in again.output and "applied" not in again.output
    assert migrations(fresh_url) == []


def test_processes_migrating_one_database_at_once_apply_each_migration_once(fresh_url: str, tmp_path: Path) -> None:
    pending = migrations(fresh_url)
    command = [sys.executable, "-m", "collector", "migrate", "--database-url", fresh_url, "--home", str(tmp_path)]
    processes = [
        subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=60)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    applied = [line.split()[1] for output in outputs for line in output.splitlines() if line.startswith("applied")]
    assert sorted(applied) == sorted(pending), "each migration applied by exactly one of them"
    assert migrations(fresh_url) == []


def test_no_migrate_refuses_a_database_that_is_behind_before_starting_anything(fresh_url: str, tmp_path: Path) -> None:
    with pytest.raises(SchemaBehind) as caught:
        open_store(load_settings(database_url=fresh_url), schema="require")
    assert caught.value.pending == migrations(fresh_url) and caught.value.version == 0
    result = CliRunner().invoke(
        main,
        ["collect", "--no-migrate", "--home", str(tmp_path), "--redis-url", "redis://127.0.0.1:1/0"],
        env={"RUNWATCH_DATABASE_URL": fresh_url},
    )
    assert result.exit_code == 1, result.output
    assert "needs" in result.output and "run `runwatch migrate` first" in result.output
    assert isinstance(result.exception, SystemExit), "an error message, not a traceback"


def test_a_started_collector_migrates_the_database_and_says_what_it_applied(fresh_url: str, tmp_path: Path) -> None:
    from collector.cli.serve import open_service_store

    pending = migrations(fresh_url)
    store: Any = None

    @click.command()
    def start() -> None:
        nonlocal store
        store = open_service_store(load_settings(database_url=fresh_url, home=tmp_path), migrate=True)

    result = CliRunner().invoke(start, [])
    try:
        assert result.exit_code == 0, result.output
        assert [line.split()[2] for line in result.output.splitlines()] == pending
        assert store.pending_migrations() == []
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "error", "message"),
    [
        ("mysql://db/runwatch", ConfigError, "unsupported database_url mysql://"),
        ("postgresql://a b", ConfigError, "invalid database_url"),
        ("postgresql://runwatch:secret@127.0.0.1:1/runwatch", StoreUnavailable, "cannot reach the database"),
    ],
)
def test_a_bad_or_unreachable_database_url_is_a_clear_error_without_the_password(
    url: str, error: type[Exception], message: str, tmp_path: Path
) -> None:
    with pytest.raises(error, match=message) as caught:
        open_store(load_settings(database_url=url))
    assert "secret" not in str(caught.value)
    result = CliRunner().invoke(main, ["runs", "--home", str(tmp_path)], env={"RUNWATCH_DATABASE_URL": url})
    assert result.exit_code == 1 and message in result.output and "secret" not in result.output
    assert isinstance(result.exception, SystemExit), "an error message, not a traceback"
