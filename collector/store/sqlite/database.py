"""``Database``: the SQLite connection, its lock, the one way to run a transaction, migrations.

Every part of the SQLite backend (ingest, runs, series, alerts, tokens, silences) holds
the same ``Database`` and goes through it: one connection in WAL mode, one re-entrant
lock (the consumer writes from its store thread while API handlers read from a pool),
and ``transaction()`` written once. Reads are short, so a long read never holds up the
consumer's writes for long.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

_MIGRATIONS = "collector.store.sqlite.migrations"


def _migrations() -> list[str]:
    """Schema migrations in order: ``sqlite_NNNN_*.sql`` (or ``.py`` with ``migrate(db)``) files."""
    files = resources.files(_MIGRATIONS).iterdir()
    return sorted(f.name for f in files if f.name.startswith("sqlite_") and f.name.endswith((".sql", ".py")))


def _apply_migration(db: sqlite3.Connection, name: str) -> None:
    if name.endswith(".py"):
        module = importlib.import_module(f"{_MIGRATIONS}.{name[:-3]}")
        module.migrate(db)
        return
    sql = resources.files(_MIGRATIONS).joinpath(name).read_text()
    for statement in sql.split(";\n"):
        if statement.strip():
            db.execute(statement)


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only, unless it exists (its mode is then the operator's).

    SQLite would create it 0644, and its ``-wal`` and ``-shm`` files copy the database's mode.
    An empty file is an empty SQLite database.
    """
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


class Database:
    """One SQLite connection (WAL), shared by the backend's parts under one lock.

    >>> db = Database(Path(".runwatch/runwatch.db"))
    >>> with db.transaction() as conn:
    ...     conn.execute("UPDATE runs SET notes = ? WHERE id = ?", ("", run_id))
    >>> db.read("SELECT count(*) FROM runs")
    [(12,)]
    """

    def __init__(self, path: Path | str, *, migrate: bool = True) -> None:
        self.path = Path(path)
        self.in_memory = str(path) == ":memory:"
        if not self.in_memory:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _create_private(self.path)
        self.conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA busy_timeout=10000")
        self.conn.execute("PRAGMA cache_size=-65536")
        self.lock = threading.RLock()
        if migrate:
            self.migrate()

    def __repr__(self) -> str:
        return f"<Database path={self.path} schema={self.schema_version}>"

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception (re-raised), under the lock."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                if self.conn.in_transaction:  # SQLite may have rolled back already (disk full, I/O error)
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """All rows of one query, under the lock."""
        with self.lock:
            return self.conn.execute(sql, args).fetchall()

    def execute(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        """One statement in its own implicit transaction (or inside the one the caller holds)."""
        with self.lock:
            return self.conn.execute(sql, args)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.lock:
            self.conn.executemany(sql, rows)

    @property
    def schema_version(self) -> int:
        """The last migration applied (0 on an empty database)."""
        if not self.read("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"):
            return 0
        return int(self.read("SELECT coalesce(max(version), 0) FROM schema_version")[0][0])

    def pending_migrations(self) -> list[str]:
        """Migrations this file has not had yet, in order."""
        return _migrations()[self.schema_version :]

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def migrate(self) -> list[str]:
        """Apply the migrations this file has not seen, each in its own ``BEGIN IMMEDIATE``; returns their names."""
        applied = []
        self.conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        for version, name in enumerate(_migrations(), start=1):
            with self.transaction() as conn:  # another process may be migrating right now
                current = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
                if version > current:
                    _apply_migration(conn, name)
                    conn.execute("INSERT INTO schema_version VALUES (?)", (version,))
                    applied.append(name)
        return applied
