"""``artifact`` events applied inside the write transaction: versions, aliases, uses, rejections.

Shared by both backends: the statements are standard SQL written with ``?`` placeholders
(PostgreSQL's are ``%s``: ``Sql``), and numbering a version is serialised where several
collectors may write at once (PostgreSQL: a transaction-scoped advisory lock per name).

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
from collections.abc import Callable
from typing import Any, Protocol

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


class Cursor(Protocol):
    def fetchone(self) -> Any: ...


class Connection(Protocol):
    """What both drivers' connections offer: ``execute(sql, args)`` returning a cursor."""

    def execute(self, sql: str, args: Any = ..., /) -> Cursor: ...


class Sql:
    """A backend's placeholder style: statements here are written with ``?``."""

    def __init__(self, mark: str = "?") -> None:
        self.mark = mark

    def __call__(self, sql: str) -> str:
        return sql if self.mark == "?" else sql.replace("?", self.mark)


class ArtifactEvents:
    """Applies one run's ``artifact`` events to the artifact tables (the caller holds the transaction).

    ``serialise(conn, key)``: called before a version of ``key`` is numbered, where
    another writer could number one at the same time.
    """

    def __init__(self, sql: Sql | None = None, serialise: Callable[[Connection, str], None] | None = None) -> None:
        self._sql = sql or Sql()
        self._serialise = serialise

    def apply(self, conn: Connection, run_id: str, event: Event, now: float) -> None:
        payload = event.payload
        role = payload.get("role", "output")
        if role == "output" and "files" not in payload:
            self._reference(conn, run_id, event)
            return
        try:
            if role == "input":
                self._use(conn, run_id, event, now)
            else:
                self._produce(conn, run_id, event, now)
        except (Rejected, ValueError) as exc:
            conn.execute(
                self._sql(
                    "INSERT INTO artifact_rejections (run_id, writer, seq, name, role, reason, at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
                ),
                (run_id, event.writer, event.seq, str(payload.get("name"))[:200], role, str(exc), now),
            )

    def _reference(self, conn: Connection, run_id: str, event: Event) -> None:
        p = event.payload
        conn.execute(
            self._sql("INSERT INTO artifacts (run_id, ts, name, uri, size, sha256) VALUES (?, ?, ?, ?, ?, ?)"),
            (run_id, event.ts, p["name"], p["uri"], p.get("size"), p.get("sha256")),
        )

    def _project(self, conn: Connection, run_id: str, payload: dict[str, Any]) -> str:
        if payload.get("project"):
            return str(payload["project"])
        row = conn.execute(self._sql("SELECT project FROM runs WHERE id = ?"), (run_id,)).fetchone()
        return str(row[0]) if row else "unknown"

    def _produce(self, conn: Connection, run_id: str, event: Event, now: float) -> None:
        p = event.payload
        db = conn
        q = self._sql
        name = clean_name(p["name"])
        kind = clean_type(p.get("type") or "file")
        aliases = sorted({clean_alias(alias) for alias in p.get("aliases", [])})
        if len(aliases) > MAX_ALIASES:
            raise Rejected(f"more than {MAX_ALIASES} aliases")
        files = self._checked_files(conn, p["files"])
        digest = manifest_digest((f[0], f[1], f[2]) for f in files)
        if p.get("sha256") and p["sha256"] != digest:
            raise Rejected(f"sha256 {p['sha256']} does not match the digest of the files ({digest})")
        project = self._project(conn, run_id, p)
        if self._serialise is not None:
            self._serialise(conn, f"artifact:{project}:{name}")
        version = db.execute(
            q("SELECT coalesce(max(version), 0) + 1 FROM artifact_versions WHERE project = ? AND name = ?"),
            (project, name),
        ).fetchone()[0]
        row = db.execute(
            q(
                "INSERT INTO artifact_versions (run_id, project, name, version, type, metadata, created_at, writer,"
                " seq, size, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
            ),
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
        ).fetchone()
        version_id = row[0]
        for path, sha, size in files:
            db.execute(
                q("INSERT INTO artifact_files (version_id, path, sha256, size) VALUES (?, ?, ?, ?)"),
                (version_id, path, sha, size),
            )
        for alias in aliases:
            was = db.execute(
                q("SELECT version_id FROM artifact_aliases WHERE project = ? AND name = ? AND alias = ?"),
                (project, name, alias),
            ).fetchone()
            db.execute(
                q(
                    "INSERT INTO artifact_aliases (project, name, alias, version_id, set_at) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (project, name, alias) DO UPDATE SET version_id = excluded.version_id,"
                    " set_at = excluded.set_at"
                ),
                (project, name, alias, version_id, now),
            )
            db.execute(
                q(
                    "INSERT INTO artifact_alias_moves (project, name, alias, from_version_id, to_version_id, run_id,"
                    " at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                ),
                (project, name, alias, was[0] if was else None, version_id, run_id, now),
            )

    def _checked_files(self, conn: Connection, raw: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
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
            row = conn.execute(self._sql("SELECT size FROM blobs WHERE sha256 = ?"), (sha,)).fetchone()
            if row is None:
                raise Rejected(f"{path!r}: blob {sha} was never uploaded")
            if row[0] != size:
                raise Rejected(f"{path!r}: the event says {size} bytes, the stored blob has {row[0]}")
            files.append((path, sha, size))
        return files

    def _use(self, conn: Connection, run_id: str, event: Event, now: float) -> None:
        p = event.payload
        name = clean_name(p["name"])
        version = p.get("version")
        if version is None:
            raise Rejected("an input artifact event needs its version")
        project = self._project(conn, run_id, p)
        row = conn.execute(
            self._sql("SELECT id FROM artifact_versions WHERE project = ? AND name = ? AND version = ?"),
            (project, name, version),
        ).fetchone()
        if row is None:
            raise Rejected(f"no version {version} of {name!r} in project {project!r}")
        conn.execute(
            self._sql("INSERT INTO artifact_uses (run_id, version_id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"),
            (run_id, row[0], now),
        )
