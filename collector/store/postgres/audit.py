"""The audit trail in the PostgreSQL store: one appended row per change made through the API or the CLI."""

from __future__ import annotations

import json
from typing import Any

from ..records import AuditEntry
from .database import Database

_COLUMNS = "id, at, who, source, action, target, detail"


class PostgresAudit:
    """``base.AuditStore`` over the PostgreSQL database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append(self, entry: AuditEntry) -> int:
        rows = self._db.read(
            "INSERT INTO audit_log (at, who, source, action, target, detail) VALUES (%s, %s, %s, %s, %s, %s)"
            " RETURNING id",
            (entry.at, entry.who, entry.source, entry.action, entry.target, json.dumps(entry.detail, default=str)),
        )
        return int(rows[0][0])

    def list(
        self, *, since: float | None = None, who: str | None = None, action: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        where: list[str] = []
        args: list[Any] = []
        if since is not None:
            where.append("at >= %s")
            args.append(since)
        if who is not None:
            where.append("who = %s")
            args.append(who)
        if action is not None:
            where.append("(action = %s OR left(action, %s) = %s)")
            args.extend([action, len(action) + 1, f"{action}."])
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._db.read(
            f"SELECT {_COLUMNS} FROM audit_log{clause} ORDER BY at DESC, id DESC LIMIT %s", [*args, limit]
        )
        return [
            AuditEntry(at, who_, source, act, target, json.loads(detail), rid)
            for rid, at, who_, source, act, target, detail in rows
        ]
