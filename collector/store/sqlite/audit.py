"""The audit trail in the SQLite store: one appended row per change made through the API or the CLI."""

from __future__ import annotations

import json
from typing import Any

from ..records import AuditEntry
from .database import Database

_COLUMNS = "id, at, who, source, action, target, detail"


class SQLiteAudit:
    """``base.AuditStore`` over the SQLite database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append(self, entry: AuditEntry) -> int:
        cursor = self._db.execute(
            "INSERT INTO audit_log (at, who, source, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (entry.at, entry.who, entry.source, entry.action, entry.target, json.dumps(entry.detail, default=str)),
        )
        return int(cursor.lastrowid or 0)

    def list(
        self, *, since: float | None = None, who: str | None = None, action: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        where: list[str] = []
        args: list[Any] = []
        if since is not None:
            where.append("at >= ?")
            args.append(since)
        if who is not None:
            where.append("who = ?")
            args.append(who)
        if action is not None:
            where.append("(action = ? OR substr(action, 1, ?) = ?)")
            args.extend([action, len(action) + 1, f"{action}."])
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._db.read(
            f"SELECT {_COLUMNS} FROM audit_log{clause} ORDER BY at DESC, id DESC LIMIT ?", [*args, limit]
        )
        return [
            AuditEntry(at, who_, source, act, target, json.loads(detail), rid)
            for rid, at, who_, source, act, target, detail in rows
        ]
