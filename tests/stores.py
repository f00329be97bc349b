"""The test suite's store backends: SQLite in the test's home, PostgreSQL in a database of the session's own.

PostgreSQL comes from ``RUNWATCH_TEST_DATABASE_URL`` (a server and a user allowed to
create databases), else the server on 127.0.0.1:5432 if it answers (trust auth, user
``postgres`` or ``root``), else one started for the session with Debian's ``initdb`` +
``pg_ctl`` in a temporary directory; else the tests that need it skip (fail under
``RUNWATCH_TEST_STRICT=1``). The shared server belongs to everyone on the machine: the
session creates ``runwatch_test_<random>``, migrates it once, empties its tables
between tests (fast: no schema rebuilt), and drops it at the end. It never writes to a
default database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.helpers import STRICT, free_port

BACKENDS = ("sqlite", "postgres")
PG_BIN = Path("/usr/lib/postgresql/15/bin")
_KEPT_TABLES = {"schema_version"}


def _answers(url: str) -> bool:
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=3, autocommit=True).close()
    except psycopg.Error:
        return False
    return True


class LocalServer:
    """A PostgreSQL of the session's own: ``initdb`` + ``pg_ctl`` in a temporary directory (trust auth, loopback)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self._as: list[str] = []

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> LocalServer:
        if os.geteuid() == 0:  # initdb refuses to run as root: the server runs as the postgres user, in a
            self.directory = Path(
                tempfile.mkdtemp(prefix="runwatch-pg-")
            )  # directory it can reach (not pytest's 0700 one)
            shutil.chown(self.directory, "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        data, sockets = self.directory / "data", self.directory / "sockets"
        subprocess.run([*self._as, "mkdir", "-p", str(sockets)], check=True)
        subprocess.run(
            [
                *self._as,
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                *self._as,
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                f"-k {sockets} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off",
                "-l",
                str(self.directory / "server.log"),
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        return self

    def stop(self) -> None:
        subprocess.run(
            [*self._as, str(PG_BIN / "pg_ctl"), "-D", str(self.directory / "data"), "-m", "immediate", "stop"],
            capture_output=True,
        )
        if self._as:
            shutil.rmtree(self.directory, ignore_errors=True)


def _server(directory: Path) -> tuple[str, LocalServer | None]:
    """An admin URL of a server we may create a database on, and the server if we started it."""
    given = os.environ.get("RUNWATCH_TEST_DATABASE_URL")
    if given:
        if not _answers(given):
            pytest.fail(f"RUNWATCH_TEST_DATABASE_URL does not answer: {given.split('@')[-1]}")
        return given, None
    for user in ("postgres", "root"):
        url = f"postgresql://{user}@127.0.0.1:5432/postgres"
        if _answers(url):
            return url, None
    if (PG_BIN / "initdb").exists():
        try:
            server = LocalServer(directory).start()
        except (OSError, subprocess.CalledProcessError) as exc:
            reason = f"no PostgreSQL answers on 127.0.0.1:5432 and starting one failed: {exc}"
        else:
            return server.url, server
    else:
        reason = "no PostgreSQL answers on 127.0.0.1:5432 and none is installed (apt-get install postgresql)"
    if STRICT:
        pytest.fail(f"RUNWATCH_TEST_STRICT=1 but {reason}")
    pytest.skip(reason)


def _with_database(url: str, name: str) -> str:
    """``url`` naming the database ``name`` instead (query parameters kept)."""
    return urlsplit(url)._replace(path=f"/{name}").geturl()


class PostgresDatabase:
    """``runwatch_test_<random>`` on the server, migrated once; ``truncate()`` empties it between tests."""

    def __init__(self, directory: Path) -> None:
        import psycopg

        from collector.store.postgres import PostgresStore

        self.admin_url, self._server = _server(directory)
        self.name = f"runwatch_test_{uuid.uuid4().hex[:12]}"
        self._extra: list[str] = []
        self._admin = psycopg.connect(self.admin_url, autocommit=True)
        self._admin.execute(f'CREATE DATABASE "{self.name}"')
        # tests need no durability across a server crash: commits need not wait for the WAL's fsync
        self._admin.execute(f'ALTER DATABASE "{self.name}" SET synchronous_commit = off')
        self.url = _with_database(self.admin_url, self.name)
        PostgresStore(self.url, pool_size=1).close()  # the schema, once per session
        self._conn = psycopg.connect(self.url, autocommit=True)
        self._conn.execute("SET lock_timeout = '20s'")  # a test that left a transaction open fails, not hangs
        tables = self._conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        ).fetchall()
        sequences = self._conn.execute(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() ORDER BY sequencename"
        ).fetchall()
        # DELETE and setval, not TRUNCATE: on these small tables 3 ms instead of 200-400 ms a test
        self._empty = "; ".join(
            [f'DELETE FROM "{name}"' for (name,) in tables if name not in _KEPT_TABLES]
            + [f"SELECT setval('\"{name}\"', 1, false)" for (name,) in sequences]
        )

    def truncate(self) -> None:
        """Every table empty again and every id restarting from 1, the schema kept (one transaction)."""
        with self._conn.transaction():
            self._conn.execute(self._empty)

    def create_database(self) -> str:
        """A further, empty database of the session's own (dropped with the session's); its URL."""
        name = f"{self.name}_{uuid.uuid4().hex[:6]}"
        self._admin.execute(f'CREATE DATABASE "{name}"')
        self._extra.append(name)
        return _with_database(self.admin_url, name)

    def drop(self) -> None:
        self._conn.close()
        for name in [self.name, *self._extra]:
            self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._admin.close()
        if self._server is not None:
            self._server.stop()


# ------------------------------------------------------------------ looking inside a store, whichever it is


def query(store: Any, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
    """Rows of ``sql`` (``?`` placeholders) run on the store's own database, SQLite or PostgreSQL."""
    from collector.store.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        with store.db.lock:
            return store.db.conn.execute(sql, args).fetchall()
    with store.db.pool.connection() as conn:
        cursor = conn.execute(sql.replace("?", "%s"), args)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []


def dump(store: Any) -> str:
    """Every row of every table of the store as text (to prove what it never holds)."""
    from collector.store.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        with store.db.lock:
            return "\n".join(store.db.conn.iterdump())
    tables = store.db.read("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return "\n".join(str(row) for (table,) in tables for row in store.db.read(f'SELECT t::text FROM "{table}" t'))


def chunk_reads(store: Any) -> tuple[Any, Any]:
    """The store's ``read`` and its ``ChunkQueries``: the arguments of ``store.format.chunks``' reads."""
    from collector.store.format.chunks import ChunkQueries
    from collector.store.sqlite import SQLiteStore

    return store.db.read, ChunkQueries.in_style("?" if isinstance(store, SQLiteStore) else "%s")
