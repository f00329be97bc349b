"""Silences and dead letters in the SQLite store: two small tables the API and CLI manage."""

from __future__ import annotations

from typing import Any

from ..base import DeadLetter
from ..format.rows import SILENCE_FIELDS, silence_dict
from .database import Database


class SQLiteSilences:
    """``base.SilenceStore`` over the SQLite database (the alert engine reads them in ``SQLiteAlerts``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        *,
        rule: str | None,
        run_id: str | None,
        project: str | None,
        starts_at: float,
        ends_at: float,
        comment: str,
        created_by: str,
        now: float,
    ) -> int:
        cursor = self._db.execute(
            "INSERT INTO silences (rule, run_id, project, starts_at, ends_at, comment, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (rule, run_id, project, starts_at, ends_at, comment, created_by, now),
        )
        return int(cursor.lastrowid or 0)

    def list(self, now: float, *, include_ended: bool = False) -> list[dict[str, Any]]:
        where = "" if include_ended else "WHERE ends_at > ? AND expired_at IS NULL"
        rows = self._db.read(
            f"SELECT {', '.join(SILENCE_FIELDS)} FROM silences {where} ORDER BY id DESC",
            () if include_ended else (now,),
        )
        return [silence_dict(row, now) for row in rows]

    def expire(self, silence_id: int, now: float) -> bool:
        cursor = self._db.execute(
            "UPDATE silences SET expired_at = ? WHERE id = ? AND expired_at IS NULL AND ends_at > ?",
            (now, silence_id, now),
        )
        return cursor.rowcount > 0


class SQLiteDeadLetters:
    """``base.DeadLetterStore``: what the ingest recorded as undeliverable, newest first."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def list(self, limit: int = 100) -> list[DeadLetter]:
        rows = self._db.read(
            "SELECT stream, entry_id, reason, run_id, size, raw, received_at FROM dead_letters ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [DeadLetter(s, e, r, run, size, raw or b"", at) for s, e, r, run, size, raw, at in rows]

    def count(self) -> int:
        return int(self._db.read("SELECT count(*) FROM dead_letters")[0][0])
