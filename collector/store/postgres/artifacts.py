"""Artifacts in the PostgreSQL store: the shared reads (``artifact_reads.py``) and the blob registry's write."""

from __future__ import annotations

from ..alias_moves import audit_entry, move_alias
from ..artifact_events import Sql
from ..artifact_reads import ArtifactReads
from ..records import AliasMove
from .audit import PostgresAudit
from .database import Database
from .run_events import lock_artifact_name


class PostgresArtifacts(ArtifactReads):
    """``base.ArtifactStore`` over the PostgreSQL database (versions are written by the ingest)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db.read, Sql("%s"))
        self._db = db
        self._audit = PostgresAudit(db)  # promotions append their entry inside their own transaction

    def register_blob(self, sha256: str, size: int, now: float) -> bool:
        changed = self._db.execute(
            "INSERT INTO blobs (sha256, size, first_seen) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (sha256, size, now),
        )
        return changed > 0

    def move_alias(
        self, project: str, name: str, alias: str, version: int, *, by: str, now: float, source: str | None = None
    ) -> AliasMove | None:
        with self._db.transaction() as conn:
            move = move_alias(
                conn, Sql("%s"), project, name, alias, version, by=by, now=now, serialise=lock_artifact_name
            )
            if move is not None and source is not None and move.from_version != move.to_version:
                self._audit.append(audit_entry(move, source))  # joins this thread's transaction
            return move
