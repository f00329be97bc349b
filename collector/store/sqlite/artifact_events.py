"""``artifact`` events applied inside the write transaction: versions, aliases, uses, rejections.

An output event whose files are all registered blobs (their bytes committed to the blob
store) becomes the next version of ``(project, name)``; one whose files are not, or whose
names or paths break the contract's rules, is recorded as rejected with the reason and
never listed as downloadable. An input event records a use (lineage). An event with no
``files`` is the contract's original reference by URI: recorded, not downloadable.
Idempotency comes from the ingest (an event's ``(run_id, writer, seq)`` is applied once);
the ``UNIQUE (run_id, writer, seq)`` of versions is a second lock on the same door.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from emitter.artifact_paths import (
    MAX_ALIASES,
    MAX_FILES,
    clean_alias,
    clean_name,
    clean_path,
    clean_type,
    is_sha256,
    manifest_digest,
)
from emitter.events import Event


class Rejected(Exception):
    """Why an artifact event cannot be applied."""


class ArtifactEvents:
    """Applies one run's ``artifact`` events to the artifact tables (the caller holds the transaction)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def apply(self, run_id: str, event: Event, now: float) -> None:
        payload = event.payload
        role = payload.get("role", "output")
        if role == "output" and "files" not in payload:
            self._reference(run_id, event)
            return
        try:
            if role == "input":
                self._use(run_id, event, now)
            else:
                self._produce(run_id, event, now)
        except (Rejected, ValueError) as exc:
            self._conn.execute(
                "INSERT OR IGNORE INTO artifact_rejections (run_id, writer, seq, name, role, reason, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, event.writer, event.seq, str(payload.get("name"))[:200], role, str(exc), now),
            )

    def _reference(self, run_id: str, event: Event) -> None:
        p = event.payload
        self._conn.execute(
            "INSERT INTO artifacts (run_id, ts, name, uri, size, sha256) VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, event.ts, p["name"], p["uri"], p.get("size"), p.get("sha256")),
        )

    def _project(self, run_id: str, payload: dict[str, Any]) -> str:
        if payload.get("project"):
            return str(payload["project"])
        row = self._conn.execute("SELECT project FROM runs WHERE id = ?", (run_id,)).fetchone()
        return str(row[0]) if row else "unknown"

    def _produce(self, run_id: str, event: Event, now: float) -> None:
        p = event.payload
        db = self._conn
        name = clean_name(p["name"])
        kind = clean_type(p.get("type") or "file")
        aliases = sorted({clean_alias(alias) for alias in p.get("aliases", [])})
        if len(aliases) > MAX_ALIASES:
            raise Rejected(f"more than {MAX_ALIASES} aliases")
        files = self._checked_files(p["files"])
        digest = manifest_digest((f[0], f[1], f[2]) for f in files)
        if p.get("sha256") and p["sha256"] != digest:
            raise Rejected(f"sha256 {p['sha256']} does not match the digest of the files ({digest})")
        project = self._project(run_id, p)
        version = db.execute(
            "SELECT coalesce(max(version), 0) + 1 FROM artifact_versions WHERE project = ? AND name = ?",
            (project, name),
        ).fetchone()[0]
        cursor = db.execute(
            "INSERT INTO artifact_versions (run_id, project, name, version, type, metadata, created_at, writer, seq,"
            " size, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                project,
                name,
                version,
                kind,
                json.dumps(p.get("metadata") or {}, default=str),
                event.ts,
                event.writer,
                event.seq,
                sum(f[2] for f in files),
                digest,
            ),
        )
        version_id = cursor.lastrowid
        db.executemany(
            "INSERT INTO artifact_files (version_id, path, sha256, size) VALUES (?, ?, ?, ?)",
            [(version_id, path, sha, size) for path, sha, size in files],
        )
        for alias in aliases:
            row = db.execute(
                "SELECT version_id FROM artifact_aliases WHERE project = ? AND name = ? AND alias = ?",
                (project, name, alias),
            ).fetchone()
            db.execute(
                "INSERT INTO artifact_aliases (project, name, alias, version_id, set_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (project, name, alias) DO UPDATE SET version_id = excluded.version_id,"
                " set_at = excluded.set_at",
                (project, name, alias, version_id, now),
            )
            db.execute(
                "INSERT INTO artifact_alias_moves (project, name, alias, from_version_id, to_version_id, run_id, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (project, name, alias, row[0] if row else None, version_id, run_id, now),
            )

    def _checked_files(self, raw: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
        """Every file's path safe, digest well-formed and blob registered with the same size."""
        if not raw:
            raise Rejected("an artifact needs at least one file")
        if len(raw) > MAX_FILES:
            raise Rejected(f"more than {MAX_FILES} files")
        files: list[tuple[str, str, int]] = []
        seen: set[str] = set()
        for item in raw:
            path = clean_path(item["path"], what="file path")
            if path in seen:
                raise Rejected(f"file path {path!r} appears twice")
            seen.add(path)
            sha, size = item["sha256"], item["size"]
            if not is_sha256(sha):
                raise Rejected(f"{path!r}: not a lowercase hex sha256")
            row = self._conn.execute("SELECT size FROM blobs WHERE sha256 = ?", (sha,)).fetchone()
            if row is None:
                raise Rejected(f"{path!r}: blob {sha} was never uploaded")
            if row[0] != size:
                raise Rejected(f"{path!r}: the event says {size} bytes, the stored blob has {row[0]}")
            files.append((path, sha, size))
        return files

    def _use(self, run_id: str, event: Event, now: float) -> None:
        p = event.payload
        name = clean_name(p["name"])
        version = p.get("version")
        if version is None:
            raise Rejected("an input artifact event needs its version")
        project = self._project(run_id, p)
        row = self._conn.execute(
            "SELECT id FROM artifact_versions WHERE project = ? AND name = ? AND version = ?", (project, name, version)
        ).fetchone()
        if row is None:
            raise Rejected(f"no version {version} of {name!r} in project {project!r}")
        self._conn.execute(
            "INSERT OR IGNORE INTO artifact_uses (run_id, version_id, at) VALUES (?, ?, ?)", (run_id, row[0], now)
        )
