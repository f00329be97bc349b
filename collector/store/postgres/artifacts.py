"""Artifacts in the PostgreSQL store: the shared reads (``artifact_reads.py``) and the blob registry's write."""

from __future__ import annotations

from ..artifact_events import Sql
from ..artifact_reads import ArtifactReads
from .database import Database


class PostgresArtifacts(ArtifactReads):
    """``base.ArtifactStore`` over the PostgreSQL database (versions are written by the ingest)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db.read, Sql("%s"))
        self._db = db

    def register_blob(self, sha256: str, size: int, now: float) -> bool:
        changed = self._db.execute(
            "INSERT INTO blobs (sha256, size, first_seen) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (sha256, size, now),
        )
        return changed > 0
