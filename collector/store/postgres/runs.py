"""Run reads of the PostgreSQL store: lookups, the CLI's table, the API's pages and details.

The same rows as SQLite's, mapped by the same functions (``format/rows.py``); the filter
grammar becomes PostgreSQL SQL through ``dialect.POSTGRES``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..artifact_reads import run_artifacts
from ..base import RunRecord
from ..dialect import POSTGRES
from ..format.rows import (
    RUN_COLUMNS,
    add_page_summaries,
    as_dict,
    metric_details,
    metric_summaries,
    page_entry,
    run_record,
    writer_dicts,
)
from ..search import parse_filter
from ..sort import parse_sort
from .artifacts import PostgresArtifacts
from .database import Database


class PostgresRuns:
    """``base.RunStore`` over the PostgreSQL database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def resolve(self, ref: str) -> str | None:
        if self._db.read("SELECT 1 FROM runs WHERE id = %s", (ref,)):
            return ref
        rows = self._db.read("SELECT id FROM runs WHERE name = %s LIMIT 2", (ref,))
        return str(rows[0][0]) if len(rows) == 1 else None

    def named(self, name: str) -> list[str]:
        return [row[0] for row in self._db.read("SELECT id FROM runs WHERE name = %s", (name,))]

    def get(self, ref: str) -> RunRecord | None:
        run_id = self.resolve(ref)
        if run_id is None:
            return None
        rows = self._db.read(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = %s", (run_id,))
        return self._with_details(run_record(rows[0])) if rows else None

    def recent(self, *, project: str | None = None, limit: int = 50) -> list[RunRecord]:
        if project is None:
            rows = self._db.read(f"SELECT {RUN_COLUMNS} FROM runs ORDER BY created_at DESC LIMIT %s", (limit,))
        else:
            rows = self._db.read(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE project = %s ORDER BY created_at DESC LIMIT %s",
                (project, limit),
            )
        return [self._with_details(run_record(row)) for row in rows]

    def _with_details(self, run: RunRecord) -> RunRecord:
        run.params = self.params(run.id)
        run.metrics = metric_summaries(
            self._db.read(
                "SELECT key, last, last_bits, last_step, min, max, count FROM series WHERE run_id = %s ORDER BY key",
                (run.id,),
            )
        )
        return run

    def params(self, run_id: str) -> dict[str, Any]:
        rows = self._db.read("SELECT key, value FROM params WHERE run_id = %s ORDER BY key", (run_id,))
        return {key: json.loads(value) for key, value in rows}

    def search(
        self, *, filter: str | None = None, sort: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[dict[str, Any]], bool]:
        where = parse_filter(filter, POSTGRES)
        order = parse_sort(sort, POSTGRES)
        sql = f"SELECT {RUN_COLUMNS} FROM runs WHERE {where.sql} ORDER BY {order.sql} LIMIT %s OFFSET %s"
        rows = self._db.read(sql, [*where.args, *order.args, limit + 1, offset])
        more = len(rows) > limit
        runs = [page_entry(run_record(row)) for row in rows[:limit]]
        if runs:
            ids = [run["id"] for run in runs]
            add_page_summaries(
                runs,
                self._db.read(
                    "SELECT run_id, key, last, last_bits, last_step FROM series WHERE run_id = ANY(%s::text[])"
                    " ORDER BY run_id, key",
                    (ids,),
                ),
                self._db.read(
                    "SELECT run_id, key, value FROM params WHERE run_id = ANY(%s::text[]) ORDER BY run_id, key", (ids,)
                ),
            )
        return runs, more

    def detail(self, run_id: str) -> dict[str, Any] | None:
        rows = self._db.read(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = %s", (run_id,))
        if not rows:
            return None
        run = as_dict(run_record(rows[0]))
        run["params"] = self.params(run_id)
        run["metrics"] = metric_details(
            self._db.read(
                "SELECT key, kind, last, last_bits, last_step, min, max, count FROM series"
                " WHERE run_id = %s ORDER BY key",
                (run_id,),
            )
        )
        run["notes_log"] = [{"ts": ts, "text": text} for ts, text in self.notes(run_id)]
        run.update(run_artifacts(PostgresArtifacts(self._db), run_id))
        run["writers"] = writer_dicts(
            self._db.read(
                "SELECT writer, committed, started_at, env FROM writers WHERE run_id = %s ORDER BY started_at, id",
                (run_id,),
            )
        )
        return run

    def brief(self, run_ids: Sequence[str]) -> list[dict[str, Any]]:
        if not run_ids:
            return []
        rows = self._db.read("SELECT id, name, project, status FROM runs WHERE id = ANY(%s::text[])", (list(run_ids),))
        found = {
            rid: {"id": rid, "name": name, "project": project, "status": status} for rid, name, project, status in rows
        }
        return [found[run_id] for run_id in run_ids if run_id in found]

    def projects(self, run_ids: Sequence[str]) -> dict[str, str]:
        if not run_ids:
            return {}
        return dict(self._db.read("SELECT id, project FROM runs WHERE id = ANY(%s::text[])", (list(run_ids),)))

    def project_list(self) -> list[tuple[str, float, float]]:
        rows = self._db.read(
            "SELECT project, min(created_at), max(updated_at) FROM runs WHERE project <> 'unknown'"
            " GROUP BY project ORDER BY project"
        )
        return [(project, float(created), float(updated)) for project, created, updated in rows]

    def notes(self, run_id: str) -> list[tuple[float, str]]:
        return [
            (ts, text)
            for ts, text in self._db.read("SELECT ts, text FROM notes WHERE run_id = %s ORDER BY id", (run_id,))
        ]

    def mark_lost(self, run_ids: Sequence[str], now: float) -> list[str]:
        with self._db.transaction():
            return mark_lost_in(self._db, run_ids, now)


def mark_lost_in(db: Database, run_ids: Sequence[str], now: float) -> list[str]:
    """Running runs become lost (inside the transaction this thread holds, if any); returns those that changed."""
    if not run_ids:
        return []
    rows = db.read(
        "UPDATE runs SET status = 'lost', updated_at = %s WHERE id = ANY(%s::text[]) AND status = 'running' RETURNING id",
        (now, list(run_ids)),
    )
    changed = {row[0] for row in rows}
    return [run_id for run_id in run_ids if run_id in changed]
