"""Artifact reads, shared by both backends: versions with their files, aliases, producer, consumers.

Versions are written by the collector only (``artifact_events.py``, inside the events'
transaction); here they are read back. A backend adds the blob registry's one write
(``register_blob``: a blob whose bytes the blob store has committed) in its own dialect.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from emitter.artifact_paths import parse_version_ref

from .alias_moves import alias_history
from .artifact_events import Sql
from .base import AliasMove, ArtifactFile, ArtifactRejection, ArtifactVersion, artifact_json

Read = Callable[[str, Sequence[Any]], list[Any]]

_COLUMNS = "id, run_id, project, name, version, type, metadata, size, digest, created_at, writer, seq"


class ArtifactReads:
    """The read half of ``base.ArtifactStore`` over a backend's ``read(sql, args)`` and placeholders."""

    def __init__(self, read: Read, sql: Sql | None = None) -> None:
        self._read_sql = read
        self._sql = sql or Sql()

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        return self._read_sql(self._sql(sql), args)

    # ------------------------------------------------------------------ the blob registry

    def blob_size(self, sha256: str) -> int | None:
        rows = self._read("SELECT size FROM blobs WHERE sha256 = ?", (sha256,))
        return int(rows[0][0]) if rows else None

    # ------------------------------------------------------------------ versions

    def for_run(self, run_id: str) -> list[ArtifactVersion]:
        rows = self._read(f"SELECT {_COLUMNS} FROM artifact_versions WHERE run_id = ? ORDER BY id", (run_id,))
        return self._complete(rows)

    def used_by(self, run_id: str) -> list[ArtifactVersion]:
        rows = self._read(
            f"SELECT {', '.join('v.' + c.strip() for c in _COLUMNS.split(','))} FROM artifact_uses u"
            " JOIN artifact_versions v ON v.id = u.version_id WHERE u.run_id = ? ORDER BY u.id",
            (run_id,),
        )
        return self._complete(rows)

    def rejected(self, run_id: str) -> list[ArtifactRejection]:
        rows = self._read(
            "SELECT run_id, writer, seq, name, role, reason, at FROM artifact_rejections WHERE run_id = ? ORDER BY id",
            (run_id,),
        )
        return [ArtifactRejection(*row) for row in rows]

    def versions(
        self, *, project: str | None = None, name: str | None = None, limit: int = 100
    ) -> list[ArtifactVersion]:
        where: list[str] = []
        args: list[Any] = []
        if project is not None:
            where.append("project = ?")
            args.append(project)
        if name is not None:
            where.append("name = ?")
            args.append(name)
        sql = f"SELECT {_COLUMNS} FROM artifact_versions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._read(f"{sql} ORDER BY created_at DESC, id DESC LIMIT ?", [*args, limit])
        return self._complete(rows)

    def get(self, project: str, name: str, ref: str) -> ArtifactVersion | None:
        number = parse_version_ref(ref)
        args: list[Any]
        if ref == "latest":
            sql, args = "project = ? AND name = ? ORDER BY version DESC LIMIT 1", [project, name]
        elif number is not None:
            sql, args = "project = ? AND name = ? AND version = ?", [project, name, number]
        else:
            sql = "id = (SELECT version_id FROM artifact_aliases WHERE project = ? AND name = ? AND alias = ?)"
            args = [project, name, ref]
        rows = self._read(f"SELECT {_COLUMNS} FROM artifact_versions WHERE {sql}", args)
        found = self._complete(rows)
        return found[0] if found else None

    def find(self, run_id: str, path: str, version: int | None = None) -> tuple[ArtifactVersion, str] | None:
        names = [
            row[0] for row in self._read("SELECT DISTINCT name FROM artifact_versions WHERE run_id = ?", (run_id,))
        ]
        matching = [n for n in names if path == n or path.startswith(n + "/")]
        if not matching:
            return None
        name = max(matching, key=len)
        if version is None:
            rows = self._read(
                f"SELECT {_COLUMNS} FROM artifact_versions WHERE run_id = ? AND name = ? ORDER BY version DESC LIMIT 1",
                (run_id, name),
            )
        else:
            rows = self._read(
                f"SELECT {_COLUMNS} FROM artifact_versions WHERE run_id = ? AND name = ? AND version = ?",
                (run_id, name, version),
            )
        found = self._complete(rows)
        return (found[0], path[len(name) + 1 :]) if found else None

    def references(self, run_id: str) -> list[Any]:
        """``(ts, name, uri, size, sha256)`` of the artifacts a run named by URI only (not stored)."""
        return self._read("SELECT ts, name, uri, size, sha256 FROM artifacts WHERE run_id = ? ORDER BY id", (run_id,))

    def lineage(self, run_id: str) -> dict[str, Any]:
        return {
            "run": next(iter(self._briefs([run_id]).values()), {"id": run_id}),
            "produced": [artifact_json(v) for v in self.for_run(run_id)],
            "consumed": [artifact_json(v) for v in self.used_by(run_id)],
        }

    def alias_history(self, project: str, name: str, alias: str | None = None, limit: int = 100) -> list[AliasMove]:
        return alias_history(self._read_sql, self._sql, project, name, alias, limit)

    # ------------------------------------------------------------------ assembling records

    def _complete(self, rows: Sequence[Sequence[Any]]) -> list[ArtifactVersion]:
        """Records with their files, aliases, producer and consumers (a few queries per page, not per row)."""
        if not rows:
            return []
        versions = [
            ArtifactVersion(
                id=row[0],
                run_id=row[1],
                project=row[2],
                name=row[3],
                version=row[4],
                type=row[5],
                aliases=[],
                metadata=json.loads(row[6]),
                size=row[7],
                digest=row[8],
                created_at=row[9],
                writer=row[10],
                seq=row[11],
            )
            for row in rows
        ]
        by_id = {v.id: v for v in versions}
        marks = ",".join("?" * len(by_id))
        ids = list(by_id)
        for vid, path, sha, size in self._read(
            f"SELECT version_id, path, sha256, size FROM artifact_files WHERE version_id IN ({marks}) ORDER BY path",
            ids,
        ):
            by_id[vid].files.append(ArtifactFile(path, sha, size))
        for vid, alias in self._read(
            f"SELECT version_id, alias FROM artifact_aliases WHERE version_id IN ({marks}) ORDER BY alias", ids
        ):
            by_id[vid].aliases.append(alias)
        uses = self._read(
            f"SELECT version_id, run_id FROM artifact_uses WHERE version_id IN ({marks}) ORDER BY id", ids
        )
        briefs = self._briefs({v.run_id for v in versions} | {run for _, run in uses})
        for v in versions:
            v.producer = briefs.get(v.run_id, {"id": v.run_id})
        for vid, run in uses:
            by_id[vid].consumers.append(briefs.get(run, {"id": run}))
        return versions

    def _briefs(self, run_ids: Sequence[str] | set[str]) -> dict[str, dict[str, Any]]:
        ids = list(run_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._read(f"SELECT id, name, project, status FROM runs WHERE id IN ({marks})", ids)
        return {
            rid: {"id": rid, "name": name, "project": project, "status": status} for rid, name, project, status in rows
        }


def run_artifacts(store: ArtifactReads, run_id: str) -> dict[str, Any]:
    """The artifact part of a run's detail: ``artifacts`` (stored versions, then references by URI,
    each in order), ``artifacts_used`` and ``artifacts_rejected``."""
    stored = [
        {**artifact_json(v), "ts": v.created_at, "stored": True, "uri": f"/api/v1/runs/{run_id}/artifacts/{v.name}"}
        for v in store.for_run(run_id)
    ]
    references = [
        {"ts": ts, "name": name, "uri": uri, "size": size, "sha256": sha, "stored": False}
        for ts, name, uri, size, sha in store.references(run_id)
    ]
    return {
        "artifacts": sorted(stored + references, key=lambda item: item["ts"]),
        "artifacts_used": [artifact_json(v) for v in store.used_by(run_id)],
        "artifacts_rejected": [
            {"name": r.name, "role": r.role, "reason": r.reason, "writer": r.writer, "seq": r.seq, "at": r.at}
            for r in store.rejected(run_id)
        ],
    }
