"""Silences and dead letters in the PostgreSQL store: two small tables the API and CLI manage."""

from __future__ import annotations

from typing import Any

from ..base import DeadLetter
from ..format.rows import SILENCE_FIELDS, silence_dict
from .database import Database


class PostgresSilences:
    """``base.SilenceStore`` over the PostgreSQL database (the alert engine reads them in ``PostgresAlerts``)."""

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
        rows = self._db.read(
            "INSERT INTO silences (rule, run_id, project, starts_at, ends_at, comment, created_by, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (rule, run_id, project, starts_at, ends_at, comment, created_by, now),
        )
        return int(rows[0][0])

    def list(self, now: float, *, include_ended: bool = False) -> list[dict[str, Any]]:
        where = "" if include_ended else "WHERE ends_at > %s AND expired_at IS NULL"
        rows = self._db.read(
            f"SELECT {', '.join(SILENCE_FIELDS)} FROM silences {where} ORDER BY id DESC",
            () if include_ended else (now,),
        )
        return [silence_dict(row, now) for row in rows]

    def expire(self, silence_id: int, now: float) -> bool:
        changed = self._db.execute(
            "UPDATE silences SET expired_at = %s WHERE id = %s AND expired_at IS NULL AND ends_at > %s",
            (now, silence_id, now),
        )
        return changed > 0


class PostgresDeadLetters:
    """``base.DeadLetterStore``: what the ingest recorded as undeliverable, newest first."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def list(self, limit: int = 100) -> list[DeadLetter]:
        rows = self._db.read(
            "SELECT stream, entry_id, reason, run_id, size, raw, received_at FROM dead_letters"
            " ORDER BY id DESC LIMIT %s",
            (limit,),
        )
        return [DeadLetter(s, e, r, run, size, bytes(raw or b""), at) for s, e, r, run, size, raw, at in rows]

    def count(self) -> int:
        return int(self._db.read("SELECT count(*) FROM dead_letters")[0][0])
