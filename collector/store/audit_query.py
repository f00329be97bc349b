"""The audit trail's SQL, written once for both backends (only the placeholder differs)."""

from __future__ import annotations

import json
from typing import Any

from .dialect import Dialect
from .records import AuditEntry

INSERT_COLUMNS = "at, who, source, action, target, detail"
_COLUMNS = f"id, {INSERT_COLUMNS}"


def insert_values(entry: AuditEntry) -> tuple[Any, ...]:
    return (entry.at, entry.who, entry.source, entry.action, entry.target, json.dumps(entry.detail, default=str))


def list_query(
    dialect: Dialect, *, since: float | None, who: str | None, action: str | None, limit: int
) -> tuple[str, list[Any]]:
    """Newest first: at or after ``since``, by ``who``, of ``action`` (``token`` also matches ``token.*``)."""
    p = dialect.param
    where: list[str] = []
    args: list[Any] = []
    if since is not None:
        where.append(f"at >= {p}")
        args.append(since)
    if who is not None:
        where.append(f"who = {p}")
        args.append(who)
    if action is not None:
        where.append(f"(action = {p} OR substr(action, 1, {p}) = {p})")
        args.extend([action, len(action) + 1, f"{action}."])
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT {_COLUMNS} FROM audit_log{clause} ORDER BY at DESC, id DESC LIMIT {p}", [*args, limit]


def entries(rows: list[Any]) -> list[AuditEntry]:
    return [
        AuditEntry(at, who, source, action, target, json.loads(detail), rid)
        for rid, at, who, source, action, target, detail in rows
    ]
