"""The PostgreSQL store: for a team, several collectors and API replicas sharing one database.

``PostgresStore`` composes one ``Database`` (a psycopg connection pool, transactions,
migrations) with a part per noun, as ``SQLiteStore`` does: the write path
(``ingest.py``), ``runs``, ``series``, ``alerts``, ``tokens``, ``silences`` and
``dead_letters``. The data layout and its arithmetic — packed chunks, exact bits,
rollup levels, downsampling, idempotency claims, row mappers — are ``store/format/``,
shared with SQLite, so both backends store the same bits and answer alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from emitter.events import Batch

from ...errors import SchemaBehind
from ..base import DeadLetter, SchemaPolicy, WriteHook, WriteResult
from .alerts import PostgresAlerts
from .artifacts import PostgresArtifacts
from .audit import PostgresAudit
from .database import Database
from .ingest import Ingest
from .runs import PostgresRuns
from .series import PostgresSeries
from .silences import PostgresDeadLetters, PostgresSilences
from .tokens import PostgresTokens

__all__ = ["PostgresStore"]


class PostgresStore:
    """The team store (``base.Store``) over PostgreSQL 14 or later.

    >>> store = PostgresStore("postgresql://runwatch@db.internal/runwatch")
    >>> store.write(batches, dead=[], now=time.time()).watermarks
    {'9f2c...': 1999}
    >>> store.runs.get("resnet-1").metrics["loss"].last
    0.31

    ``schema`` (``base.SchemaPolicy``): apply pending migrations at open (the default), or
    refuse a database that needs some (``SchemaBehind``), or open it as it is.
    """

    def __init__(self, url: str, *, schema: SchemaPolicy = "migrate", pool_size: int = 10) -> None:
        self.db = Database(url, pool_size=pool_size)
        self.where = self.db.where
        try:
            if schema == "migrate":
                self.db.migrate()
            elif schema == "require":
                pending = self.db.pending_migrations()
                if pending:
                    raise SchemaBehind(self.db.where, self.db.schema_version, pending)
        except BaseException:
            self.db.close()
            raise
        self.hooks: list[WriteHook] = []
        self._ingest = Ingest(self.db, self.hooks)
        self.runs = PostgresRuns(self.db)
        self.series = PostgresSeries(self.db)
        self.alerts = PostgresAlerts(self.db)
        self.tokens = PostgresTokens(self.db)
        self.silences = PostgresSilences(self.db)
        self.dead_letters = PostgresDeadLetters(self.db)
        self.artifacts = PostgresArtifacts(self.db)
        self.audit = PostgresAudit(self.db)

    def __repr__(self) -> str:
        return f"<PostgresStore {self.db.where}>"

    @property
    def schema_version(self) -> int:
        return self.db.schema_version

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

    # ------------------------------------------------------------------ schema and housekeeping

    def pending_migrations(self) -> list[str]:
        return self.db.pending_migrations()

    def migrate(self) -> list[str]:
        return self.db.migrate()

    def ping(self) -> None:
        self.db.ping()

    def idle(self) -> None:
        """Nothing to do between commits: PostgreSQL checkpoints and vacuums on its own."""

    def close(self) -> None:
        self.db.close()
