"""The audit trail in the PostgreSQL store: one appended row per change made through the API or the CLI."""

from __future__ import annotations

from ..audit_query import INSERT_COLUMNS, entries, insert_values, list_query
from ..dialect import POSTGRES
from ..records import AuditEntry
from .database import Database


class PostgresAudit:
    """``base.AuditStore`` over the PostgreSQL database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append(self, entry: AuditEntry) -> int:
        rows = self._db.read(
            f"INSERT INTO audit_log ({INSERT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            insert_values(entry),
        )
        return int(rows[0][0])

    def list(
        self, *, since: float | None = None, who: str | None = None, action: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        sql, args = list_query(POSTGRES, since=since, who=who, action=action, limit=limit)
        return entries(self._db.read(sql, args))
