"""Run metadata from events in PostgreSQL: creation or resumption, params, status, tags, notes, artifacts, alerts.

The same rules as SQLite's ``run_events.py``: a ``run.start`` for a run already stored
resumes it — nothing stored is overwritten or dropped, it only gains tags, notes and
new params (invariant 7). Creating a run is ``INSERT … ON CONFLICT DO NOTHING``, so two
collectors meeting a new run at once create it once, and the loser resumes it.
"""

from __future__ import annotations

import json
from typing import Any

from emitter.events import ENDED_STATUSES, Event, Kind

from ..artifact_events import ArtifactEvents, Sql
from .database import Connection

_UPSERT_PARAM = (
    "INSERT INTO params (run_id, key, value) VALUES (%s, %s, %s)"
    " ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value"
)


class RunEvents:
    """Applies a writer's non-metric events to the ``runs`` row and its side tables."""

    def __init__(self) -> None:
        self._known: set[str] = set()  # runs known to exist (this process created or saw them)
        self._artifacts = ArtifactEvents(Sql("%s"), serialise=lock_artifact_name)

    def forget(self) -> None:
        """The transaction rolled back: runs created inside it are gone."""
        self._known.clear()

    def ensure(self, conn: Connection, run_id: str, events: list[Event], now: float) -> None:
        """Create the run on its first event; a run.start for an existing run resumes it."""
        start = next((e for e in events if e.kind == Kind.RUN_START), None)
        if run_id in self._known and start is None:
            return
        if start is None:  # its run.start is missing (dead-lettered, or still in flight elsewhere)
            conn.execute(
                "INSERT INTO runs (id, project, name, status, created_at, updated_at)"
                " VALUES (%s, 'unknown', %s, 'running', %s, %s) ON CONFLICT (id) DO NOTHING",
                (run_id, run_id, events[0].ts, now),
            )
        else:
            p = start.payload
            created = conn.execute(
                "INSERT INTO runs (id, project, name, grp, tags, notes, status, created_at, updated_at, env)"
                " VALUES (%s, %s, %s, %s, %s, %s, 'running', %s, %s, %s) ON CONFLICT (id) DO NOTHING RETURNING id",
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
            ).fetchone()
            if created is not None:
                self._upsert_params(conn, run_id, p.get("config") or {})
            else:
                self._resume(conn, run_id, start)
        self._known.add(run_id)

    def _resume(self, conn: Connection, run_id: str, start: Event) -> None:
        """A resumed run keeps everything stored; it only gains tags, notes and new params."""
        p = start.payload
        row = conn.execute("SELECT project, tags, notes FROM runs WHERE id = %s FOR UPDATE", (run_id,)).fetchone()
        assert row is not None
        project, tags_json, notes = row
        tags = sorted(set(json.loads(tags_json)) | set(p.get("tags", [])))
        new_notes = p.get("notes") or ""
        if new_notes and new_notes not in notes:
            notes = f"{notes}\n{new_notes}" if notes else new_notes
        if project == "unknown":  # the placeholder created before its run.start arrived
            conn.execute(
                "UPDATE runs SET project = %s, name = %s, grp = %s, env = %s, created_at = least(created_at, %s)"
                " WHERE id = %s",
                (
                    p["project"],
                    p.get("name") or run_id,
                    p.get("group"),
                    json.dumps(p.get("env", {}), default=str),
                    start.ts,
                    run_id,
                ),
            )
        conn.execute("UPDATE runs SET tags = %s, notes = %s WHERE id = %s", (json.dumps(tags), notes, run_id))
        config = p.get("config") or {}
        if config:
            conn.cursor().executemany(
                "INSERT INTO params (run_id, key, value) VALUES (%s, %s, %s) ON CONFLICT (run_id, key) DO NOTHING",
                [(run_id, key, json.dumps(value, default=str)) for key, value in config.items()],
            )

    def _upsert_params(self, conn: Connection, run_id: str, params: dict[str, Any]) -> None:
        if params:
            conn.cursor().executemany(
                _UPSERT_PARAM, [(run_id, key, json.dumps(value, default=str)) for key, value in params.items()]
            )

    def apply(self, conn: Connection, run_id: str, event: Event, now: float) -> None:
        p = event.payload
        kind = event.kind
        if kind == Kind.RUN_START:
            return  # handled by ensure()
        if kind == Kind.PARAMS:
            self._upsert_params(conn, run_id, p["params"])
        elif kind == Kind.STATUS:
            status = p["status"]
            exit_info = {k: v for k, v in p.items() if k != "status"}
            ended = now if status in ENDED_STATUSES else None
            if exit_info:
                conn.execute(
                    "UPDATE runs SET status = %s, ended_at = %s, exit_info = %s WHERE id = %s",
                    (status, ended, json.dumps(exit_info, default=str), run_id),
                )
            else:
                conn.execute("UPDATE runs SET status = %s, ended_at = %s WHERE id = %s", (status, ended, run_id))
        elif kind == Kind.TAGS:
            row = conn.execute("SELECT tags FROM runs WHERE id = %s FOR UPDATE", (run_id,)).fetchone()
            assert row is not None
            tags = sorted(set(json.loads(row[0])) | set(p["tags"]))
            conn.execute("UPDATE runs SET tags = %s WHERE id = %s", (json.dumps(tags), run_id))
        elif kind == Kind.NOTE:
            conn.execute("INSERT INTO notes (run_id, ts, text) VALUES (%s, %s, %s)", (run_id, event.ts, p["text"]))
        elif kind == Kind.ARTIFACT:
            self._artifacts.apply(conn, run_id, event, now)
        elif kind == Kind.ALERT:
            conn.execute(
                "INSERT INTO user_alerts (run_id, ts, title, text, level) VALUES (%s, %s, %s, %s, %s)",
                (run_id, event.ts, p["title"], p["text"], p["level"]),
            )


def lock_artifact_name(conn: Any, key: str) -> None:
    """Serialise numbering versions of one artifact name across collectors, until the commit."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))
