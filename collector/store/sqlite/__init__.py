"""The SQLite store: the default, one file under ``$RUNWATCH_HOME``, WAL mode.

``SQLiteStore`` composes one ``Database`` (connection, lock, transactions, migrations)
with a part per noun: the write path (``ingest.py``), ``runs``, ``series``, ``alerts``,
``tokens``, ``silences``, ``dead_letters`` and ``artifacts`` (``artifacts.py``; its
events are applied by the shared ``store/artifact_events.py``). Points live in packed chunks, which keep
every float64 bit pattern; summaries and rollups store REALs plus exact bits for NaN and
-0.0. That layout and its arithmetic are ``store/format/``, shared with PostgreSQL.

``schema`` (``base.SchemaPolicy``): apply pending migrations at open (the default), or refuse
a file that needs some (``SchemaBehind``), or open it as it is.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from emitter.events import Batch

from ...errors import SchemaBehind
from ..base import DeadLetter, SchemaPolicy, WriteHook, WriteResult
from .alerts import SQLiteAlerts
from .artifacts import SQLiteArtifacts
from .audit import SQLiteAudit
from .database import Database
from .ingest import Ingest
from .runs import SQLiteRuns
from .series import SQLiteSeries
from .silences import SQLiteDeadLetters, SQLiteSilences
from .tokens import SQLiteTokens

__all__ = ["SQLiteStore"]

logger = logging.getLogger(__name__)


class SQLiteStore:
    """The default store (``base.Store``). Thread-safe by one lock; the consumer writes from one thread.

    >>> store = SQLiteStore(Path(".runwatch/runwatch.db"))
    >>> store.write(batches, dead=[], now=time.time()).watermarks
    {'9f2c...': 1999}
    >>> store.runs.get("resnet-1").metrics["loss"].last
    0.31
    """

    def __init__(self, path: Path | str, *, schema: SchemaPolicy = "migrate") -> None:
        self.db = Database(path, migrate=schema == "migrate")
        self.path = self.db.path
        self.where = str(self.path)
        if schema == "require":
            pending = self.db.pending_migrations()
            if pending:
                version = self.db.schema_version
                self.db.close()
                raise SchemaBehind(self.where, version, pending)
        self.hooks: list[WriteHook] = []
        self._ingest = Ingest(self.db, self.hooks)
        self.runs = SQLiteRuns(self.db)
        self.series = SQLiteSeries(self.db)
        self.alerts = SQLiteAlerts(self.db)
        self.tokens = SQLiteTokens(self.db)
        self.silences = SQLiteSilences(self.db)
        self.dead_letters = SQLiteDeadLetters(self.db)
        self.artifacts = SQLiteArtifacts(self.db)
        self.audit = SQLiteAudit(self.db)
        self._checkpoint_interval: float | None = None  # None: SQLite checkpoints inside commits
        self._next_checkpoint = 0.0

    def __repr__(self) -> str:
        return f"<SQLiteStore path={self.path}>"

    @property
    def schema_version(self) -> int:
        return self.db.schema_version

    def pending_migrations(self) -> list[str]:
        return self.db.pending_migrations()

    def migrate(self) -> list[str]:
        return self.db.migrate()

    # ------------------------------------------------------------------ the write path

    def write(self, batches: Sequence[Batch], dead: Sequence[DeadLetter], now: float) -> WriteResult:
        """Apply batches and dead letters in one transaction; redeliveries change nothing."""
        return self._ingest.write(batches, dead, now)

    def record_failure(self, stream: str, entry_id: str) -> int:
        return self._ingest.record_failure(stream, entry_id)

    def clear_failures(self, entries: Sequence[tuple[str, str]]) -> None:
        self._ingest.clear_failures(entries)

    def watermark(self, run_id: str, writer: str) -> int:
        return self._ingest.watermark(run_id, writer)

    # ------------------------------------------------------------------ housekeeping

    def ping(self) -> None:
        self.db.read("SELECT 1")

    def checkpoint_when_idle(self, interval: float = 1.0, cap_pages: int = 4096) -> None:
        """Checkpoint the WAL between commits, not inside one (the collector calls this).

        SQLite otherwise checkpoints inside the COMMIT that crosses ``wal_autocheckpoint``
        pages. Here that stays as a cap (16 MB of WAL: heavy load still reaches it between
        idle moments), and ``idle()`` checkpoints at most every ``interval`` seconds. The
        writer's own connection does it: then the WAL restarts from its beginning. A
        second, checkpointing connection (tried) keeps the WAL from ever restarting under
        steady writes, so it grows to the cap and every later COMMIT checkpoints inline,
        with fsyncs: 30 ms stalls three times a second at 120,000 points/s.
        """
        if self.db.in_memory:
            return
        self.db.execute(f"PRAGMA wal_autocheckpoint={int(cap_pages)}")
        self._checkpoint_interval = interval
        self._next_checkpoint = time.monotonic() + interval

    def idle(self) -> None:
        """A WAL checkpoint when one is due (see ``checkpoint_when_idle``)."""
        if self._checkpoint_interval is None or time.monotonic() < self._next_checkpoint:
            return
        with self.db.lock:
            try:
                self.db.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:
                logger.warning("WAL checkpoint failed: %s", exc)
        self._next_checkpoint = time.monotonic() + self._checkpoint_interval

    def close(self) -> None:
        self.db.close()
