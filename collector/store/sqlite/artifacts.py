"""Artifacts in the SQLite store: the shared reads (``artifact_reads.py``) and the blob registry's write."""

from __future__ import annotations

from ..alias_moves import audit_entry, move_alias
from ..artifact_events import Sql
from ..artifact_reads import ArtifactReads
from ..records import AliasMove
from .audit import SQLiteAudit
from .database import Database


class SQLiteArtifacts(ArtifactReads):
    """``base.ArtifactStore`` over the SQLite database (versions are written by the ingest)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db.read)
        self._db = db
        self._audit = SQLiteAudit(db)  # promotions append their entry inside their own transaction

    def register_blob(self, sha256: str, size: int, now: float) -> bool:
        cursor = self._db.execute(
            "INSERT INTO blobs (sha256, size, first_seen) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (sha256, size, now)
        )
        return cursor.rowcount > 0

    def move_alias(
        self, project: str, name: str, alias: str, version: int, *, by: str, now: float, source: str | None = None
    ) -> AliasMove | None:
        with self._db.transaction() as conn:
            move = move_alias(conn, Sql(), project, name, alias, version, by=by, now=now)
            if move is not None and source is not None and move.from_version != move.to_version:
                self._audit.append(audit_entry(move, source))  # the same connection: the same transaction
            return move
