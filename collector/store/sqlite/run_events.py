"""Run metadata from events: a run's creation or resumption, params, status, tags, notes, artifacts, alerts.

The ingest applies every non-metric event through ``RunEvents`` inside its write
transaction. A ``run.start`` for a run already stored resumes it: nothing stored is
overwritten or dropped, it only gains tags, notes and new params (invariant 7).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from emitter.events import ENDED_STATUSES, Event, Kind

from ..artifact_events import ArtifactEvents


class RunEvents:
    """Applies a writer's non-metric events to the ``runs`` row and its side tables."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._artifacts = ArtifactEvents()
        self._known: set[str] = set()  # runs known to exist (this process created or saw them)

    def forget(self) -> None:
        """The transaction rolled back: runs created inside it are gone."""
        self._known.clear()

    def ensure(self, run_id: str, events: list[Event], now: float) -> None:
        """Create the run on its first event; a run.start for an existing run resumes it."""
        if run_id in self._known and not any(e.kind == Kind.RUN_START for e in events):
            return
        db = self._conn
        exists = db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is not None
        start = next((e for e in events if e.kind == Kind.RUN_START), None)
        if not exists:
            if start is not None:
                p = start.payload
                db.execute(
                    "INSERT INTO runs (id, project, name, grp, tags, notes, status, created_at, updated_at, env)"
                    " VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                    (
                        run_id,
                        p["project"],
                        p.get("name") or run_id,
                        p.get("group"),
                        json.dumps(sorted(set(p.get("tags", [])))),
                        p.get("notes") or "",
                        start.ts,
                        now,
                        json.dumps(p.get("env", {}), default=str),
                    ),
                )
                self._upsert_params(run_id, p.get("config") or {})
            else:  # its run.start is missing (dead-lettered, or still in flight elsewhere)
                db.execute(
                    "INSERT INTO runs (id, project, name, status, created_at, updated_at)"
                    " VALUES (?, 'unknown', ?, 'running', ?, ?)",
                    (run_id, run_id, events[0].ts, now),
                )
        elif start is not None:
            self._resume(run_id, start, now)
        self._known.add(run_id)

    def _resume(self, run_id: str, start: Event, now: float) -> None:
        """A resumed run keeps everything stored; it only gains tags, notes and new params."""
        db = self._conn
        p = start.payload
        row = db.execute("SELECT project, tags, notes FROM runs WHERE id = ?", (run_id,)).fetchone()
        project, tags_json, notes = row
        tags = sorted(set(json.loads(tags_json)) | set(p.get("tags", [])))
        new_notes = p.get("notes") or ""
        if new_notes and new_notes not in notes:
            notes = f"{notes}\n{new_notes}" if notes else new_notes
        if project == "unknown":  # the placeholder created before its run.start arrived
            db.execute(
                "UPDATE runs SET project = ?, name = ?, grp = ?, env = ?, created_at = min(created_at, ?) WHERE id = ?",
                (
                    p["project"],
                    p.get("name") or run_id,
                    p.get("group"),
                    json.dumps(p.get("env", {}), default=str),
                    start.ts,
                    run_id,
                ),
            )
        db.execute("UPDATE runs SET tags = ?, notes = ? WHERE id = ?", (json.dumps(tags), notes, run_id))
        config = p.get("config") or {}
        for key, value in config.items():
            db.execute(
                "INSERT OR IGNORE INTO params (run_id, key, value) VALUES (?, ?, ?)",
                (run_id, key, json.dumps(value, default=str)),
            )

    def _upsert_params(self, run_id: str, params: dict[str, Any]) -> None:
        self._conn.executemany(
            "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)"
            " ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
            [(run_id, key, json.dumps(value, default=str)) for key, value in params.items()],
        )

    def apply(self, run_id: str, event: Event, now: float) -> None:
        db = self._conn
        p = event.payload
        kind = event.kind
        if kind == Kind.RUN_START:
            return  # handled by ensure()
        if kind == Kind.PARAMS:
            self._upsert_params(run_id, p["params"])
        elif kind == Kind.STATUS:
            status = p["status"]
            exit_info = {k: v for k, v in p.items() if k != "status"}
            ended = now if status in ENDED_STATUSES else None
            db.execute(
                "UPDATE runs SET status = ?, ended_at = ?,"
                " exit_info = CASE WHEN ? = '{}' THEN exit_info ELSE ? END WHERE id = ?",
                (status, ended, json.dumps(exit_info), json.dumps(exit_info, default=str), run_id),
            )
        elif kind == Kind.TAGS:
            row = db.execute("SELECT tags FROM runs WHERE id = ?", (run_id,)).fetchone()
            tags = sorted(set(json.loads(row[0])) | set(p["tags"]))
            db.execute("UPDATE runs SET tags = ? WHERE id = ?", (json.dumps(tags), run_id))
        elif kind == Kind.NOTE:
            db.execute("INSERT INTO notes (run_id, ts, text) VALUES (?, ?, ?)", (run_id, event.ts, p["text"]))
        elif kind == Kind.ARTIFACT:
            self._artifacts.apply(self._conn, run_id, event, now)
        elif kind == Kind.ALERT:
            db.execute(
                "INSERT INTO user_alerts (run_id, ts, title, text, level) VALUES (?, ?, ?, ?, ?)",
                (run_id, event.ts, p["title"], p["text"], p["level"]),
            )
