"""The audit trail in the SQLite store: one appended row per change made through the API or the CLI."""

from __future__ import annotations

from ..audit_query import INSERT_COLUMNS, entries, insert_values, list_query
from ..dialect import SQLITE
from ..records import AuditEntry
from .database import Database


class SQLiteAudit:
    """``base.AuditStore`` over the SQLite database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append(self, entry: AuditEntry) -> int:
        cursor = self._db.execute(
            f"INSERT INTO audit_log ({INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", insert_values(entry)
        )
        return int(cursor.lastrowid or 0)

    def list(
        self, *, since: float | None = None, who: str | None = None, action: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        sql, args = list_query(SQLITE, since=since, who=who, action=action, limit=limit)
        return entries(self._db.read(sql, args))
