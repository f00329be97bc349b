"""``Database``: the PostgreSQL connection pool, the one way to run a transaction, migrations.

Every part of the PostgreSQL backend holds the same ``Database``. Reads borrow a pooled
connection (autocommit) for one query, so the API's readers run side by side; a write
transaction holds one connection for its thread, and every call the thread makes inside
it — the ingest, the alert hooks' ``*_in_tx`` methods — runs on that connection, as all
of them do on SQLite's single connection.

Migrations are ``migrations/postgres_NNNN_*.sql`` (or ``.py`` with ``migrate(conn)``),
applied in order, each in its own transaction, under an advisory lock: two processes
starting at once apply each migration once.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import Any

import psycopg
from psycopg import conninfo
from psycopg_pool import ConnectionPool

from ...errors import ConfigError, StoreUnavailable

_MIGRATIONS = "collector.store.postgres.migrations"
_MIGRATION_LOCK = 0x72756E7761746368  # pg_advisory_lock key: "runwatch" in ASCII
_SCHEMA_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
)

APPLICATION_NAME = "runwatch"  # what pg_stat_activity shows for runwatch's connections

Connection = psycopg.Connection[Any]


def migrations() -> list[str]:
    """Schema migrations in order: ``postgres_NNNN_*.sql`` (or ``.py`` with ``migrate(conn)``) files."""
    files = resources.files(_MIGRATIONS).iterdir()
    return sorted(f.name for f in files if f.name.startswith("postgres_") and f.name.endswith((".sql", ".py")))


def describe(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        parts = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://..."
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


def _apply_migration(conn: Connection, name: str) -> None:
    if name.endswith(".py"):
        importlib.import_module(f"{_MIGRATIONS}.{name[:-3]}").migrate(conn)
        return
    conn.execute(resources.files(_MIGRATIONS).joinpath(name).read_text())  # no parameters: several statements run


class Database:
    """A pool of PostgreSQL connections shared by the backend's parts.

    >>> db = Database("postgresql://runwatch@db.internal/runwatch")
    >>> with db.transaction():
    ...     db.execute("UPDATE runs SET notes = %s WHERE id = %s", ("", run_id))
    >>> db.read("SELECT count(*) FROM runs")
    [(12,)]
    """

    def __init__(self, url: str, *, pool_size: int = 10, connect_timeout: float = 10.0) -> None:
        self.where = describe(url)
        try:
            given = conninfo.conninfo_to_dict(url)
            dsn = conninfo.make_conninfo(
                url,
                connect_timeout=given.get("connect_timeout") or max(1, int(connect_timeout)),
                application_name=given.get("application_name") or APPLICATION_NAME,
            )
        except psycopg.ProgrammingError as exc:
            raise ConfigError(f"invalid database_url {self.where}: {str(exc).strip()}") from None
        try:  # one plain connection first: a clear reason when the server is down or refuses us
            psycopg.connect(dsn, autocommit=True).close()
        except psycopg.Error as exc:
            raise StoreUnavailable(self.where, str(exc).strip().splitlines()[0]) from None
        self.pool: ConnectionPool[Connection] = ConnectionPool(
            dsn,
            kwargs={"autocommit": True},
            min_size=1,
            max_size=max(1, pool_size),
            open=False,
            name="runwatch",
        )
        self.pool.open(wait=True, timeout=connect_timeout)
        self._held = threading.local()  # the connection of this thread's open transaction, if any

    def __repr__(self) -> str:
        return f"<Database {self.where} pool={self.pool.get_stats().get('pool_size', 0)}>"

    # ------------------------------------------------------------------ transactions and statements

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction on one connection for this thread, committed at the end, rolled back on any exception.

        Inside it, this thread's ``read``/``execute`` calls run on its connection. Nested, it joins the outer one.
        """
        held = self.held()
        if held is not None:
            yield held
            return
        with self.pool.connection() as conn, conn.transaction():
            self._held.conn = conn
            try:
                yield conn
            finally:
                self._held.conn = None

    def held(self) -> Connection | None:
        """The connection of the transaction this thread holds (None outside one)."""
        conn: Connection | None = getattr(self._held, "conn", None)
        return conn

    def read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """All rows of one query (inside this thread's transaction when it holds one).

        Outside a transaction, a query that met a dead connection (the server restarted since
        it was pooled) is asked again once, on a fresh one, once the pool's dead ones are gone.
        """
        held = self.held()
        if held is not None:
            return held.execute(sql, args).fetchall()
        for attempt in (1, 2):
            with self.pool.connection() as conn:
                try:
                    return conn.execute(sql, args).fetchall()
                except psycopg.OperationalError:
                    if attempt == 2 or not conn.broken:
                        raise
            self.discard_dead()
        raise AssertionError("unreachable")

    def discard_dead(self) -> None:
        """Check the pool's idle connections now and replace the dead ones (after one was found dead)."""
        self.pool.check()

    def ping(self, timeout: float = 5.0) -> None:
        """Raise unless the server answers within ``timeout`` seconds (the readiness probe)."""
        with self.pool.connection(timeout=timeout) as conn:
            conn.execute("SELECT 1")

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """One statement, in its own transaction or the one this thread holds; returns the rows it changed."""
        held = self.held()
        if held is not None:
            return held.execute(sql, args).rowcount
        with self.pool.connection() as conn:
            return conn.execute(sql, args).rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement per row, pipelined (one round trip, not one per row)."""
        if not rows:
            return
        held = self.held()
        if held is not None:
            held.cursor().executemany(sql, rows)
            return
        with self.pool.connection() as conn, conn.transaction():
            conn.cursor().executemany(sql, rows)

    def close(self) -> None:
        self.pool.close()

    # ------------------------------------------------------------------ migrations

    @property
    def schema_version(self) -> int:
        """The last migration applied (0 on an empty database)."""
        exists = self.read("SELECT to_regclass('schema_version') IS NOT NULL")[0][0]
        if not exists:
            return 0
        return int(self.read("SELECT coalesce(max(version), 0) FROM schema_version")[0][0])

    def pending_migrations(self) -> list[str]:
        """Migrations this database has not had yet, in order."""
        return migrations()[self.schema_version :]

    def migrate(self) -> list[str]:
        """Apply the pending migrations in order, each in its own transaction; returns their names.

        Under a session advisory lock: a second process starting at the same moment waits,
        then finds them applied.
        """
        applied = []
        with self.pool.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
            try:
                conn.execute(_SCHEMA_TABLE)
                current = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
                done = int(current[0]) if current else 0
                for version, name in enumerate(migrations(), start=1):
                    if version <= done:
                        continue
                    with conn.transaction():
                        _apply_migration(conn, name)
                        conn.execute("INSERT INTO schema_version (version, name) VALUES (%s, %s)", (version, name))
                    applied.append(name)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
        return applied
