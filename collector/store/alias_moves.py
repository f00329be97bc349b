"""Promotions: an alias of an artifact moved by someone (``runwatch model promote``), shared by both backends.

An ``artifact`` event sets the aliases it names on the version it creates
(``artifact_events.py``); a promotion points an alias at an existing version. Both are
rows of ``artifact_alias_moves`` (the history), the latter with ``moved_by`` set. The
caller holds the transaction, and on PostgreSQL ``serialise`` takes the same per-name lock
as version numbering, so two promotions of one alias never both read the old version.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .artifact_events import Connection, Sql
from .records import AliasMove, AuditEntry

Read = Callable[[str, Sequence[Any]], list[Any]]

_HISTORY = (
    "SELECT m.project, m.name, m.alias, f.version, t.version, m.run_id, m.moved_by, m.at"
    " FROM artifact_alias_moves m JOIN artifact_versions t ON t.id = m.to_version_id"
    " LEFT JOIN artifact_versions f ON f.id = m.from_version_id"
)


def move_alias(
    conn: Connection,
    sql: Sql,
    project: str,
    name: str,
    alias: str,
    version: int,
    *,
    by: str,
    now: float,
    serialise: Callable[[Connection, str], None] | None = None,
) -> AliasMove | None:
    """Point ``alias`` at ``version``; None when the version does not exist (see ``ArtifactStore.move_alias``)."""
    if serialise is not None:
        serialise(conn, f"artifact:{project}:{name}")
    target = conn.execute(
        sql("SELECT id, run_id FROM artifact_versions WHERE project = ? AND name = ? AND version = ?"),
        (project, name, version),
    ).fetchone()
    if target is None:
        return None
    was = conn.execute(
        sql(
            "SELECT v.id, v.version FROM artifact_aliases a JOIN artifact_versions v ON v.id = a.version_id"
            " WHERE a.project = ? AND a.name = ? AND a.alias = ?"
        ),
        (project, name, alias),
    ).fetchone()
    move = AliasMove(project, name, alias, was[1] if was else None, version, target[1], by, now)
    if was is not None and was[0] == target[0]:
        return move  # already there: nothing changes, nothing to record
    conn.execute(
        sql(
            "INSERT INTO artifact_aliases (project, name, alias, version_id, set_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (project, name, alias) DO UPDATE SET version_id = excluded.version_id, set_at = excluded.set_at"
        ),
        (project, name, alias, target[0], now),
    )
    conn.execute(
        sql(
            "INSERT INTO artifact_alias_moves (project, name, alias, from_version_id, to_version_id, run_id, at,"
            " moved_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        (project, name, alias, was[0] if was else None, target[0], target[1], now, by),
    )
    return move


def alias_history(
    read: Read, sql: Sql, project: str, name: str, alias: str | None = None, limit: int = 100
) -> list[AliasMove]:
    """Moves of ``(project, name)``'s aliases (of one alias), newest first: in the order they were made (ids), not by
    their clocks, so each move starts where the one before it ended."""
    where, args = "m.project = ? AND m.name = ?", [project, name]
    if alias is not None:
        where, args = f"{where} AND m.alias = ?", [*args, alias]
    rows = read(sql(f"{_HISTORY} WHERE {where} ORDER BY m.id DESC LIMIT ?"), [*args, limit])
    return [AliasMove(*row) for row in rows]


def audit_entry(move: AliasMove, source: str) -> AuditEntry:
    """The audit log's record of a promotion."""
    detail = {"project": move.project, "name": move.name, "alias": move.alias, "from": move.from_version}
    target = f"{move.project}/{move.name}:{move.alias}"
    return AuditEntry(move.at, move.by or "", source, "alias.move", target, {**detail, "to": move.to_version})
