"""Rows of the tables every backend shares, mapped to the records of ``store.base``.

The SQL backends store the same columns (JSON as text, floats as REAL plus exact bits),
so one mapper per table serves both, and the CLI and the API can never disagree on what
a run or an alert is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from alerts import Delivery, DeliveryStatus
from emitter.events import json_number

from ..base import AlertRecord, MetricSummary, RunRecord
from .exact import from_columns

MAX_LIST_KEYS = 32  # metrics and params per run in a page of runs (the detail has them all)

RUN_COLUMNS = (
    "id, project, name, grp, tags, notes, status, created_at, updated_at, ended_at,"
    " last_event_at, last_heartbeat_at, last_step, env, exit_info"
)
RUN_FIELDS = (
    "id", "project", "name", "group", "tags", "notes", "status", "created_at", "updated_at", "ended_at",
    "last_event_at", "last_heartbeat_at", "last_step", "env", "exit_info",
)  # fmt: skip


def run_record(row: Sequence[Any]) -> RunRecord:
    """The one mapping of a ``runs`` row (``RUN_COLUMNS``) to a record."""
    rid, project, name, group, tags, notes, status, created, updated, ended, last_event, last_hb, step, env, exit_ = row
    return RunRecord(
        id=rid,
        project=project,
        name=name,
        group=group,
        tags=json.loads(tags),
        notes=notes,
        status=status,
        created_at=created,
        updated_at=updated,
        ended_at=ended,
        last_event_at=last_event,
        last_heartbeat_at=last_hb,
        last_step=step,
        env=json.loads(env),
        exit_info=json.loads(exit_),
    )


def as_dict(run: RunRecord) -> dict[str, Any]:
    """A run's metadata as the API shows it (params and metrics are added by the caller)."""
    return {field: getattr(run, field) for field in RUN_FIELDS}


DELIVERY_COLUMNS = "id, channel, payload, status, attempts, created_at, next_attempt_at, sent_at, last_error"


def json_value(value: float | None) -> str | None:
    """A transition's value as JSON text (non-finite values spelled as ``json_number`` does)."""
    return None if value is None else json.dumps(json_number(value))


def alert_record(row: Sequence[Any], deliveries: list[dict[str, Any]]) -> AlertRecord:
    """A row of ``history()``'s query (the alert's columns, then its run's name) as a record."""
    alert_id, rule, run_id, state, kind, severity, title, text, metric, value, step, at, payload, run_name = row
    return AlertRecord(
        id=alert_id,
        rule=rule,
        run_id=run_id,
        state=state,
        kind=kind,
        severity=severity,
        title=title,
        text=text,
        metric=metric,
        value=json.loads(value) if value is not None else None,
        step=step,
        at=at,
        payload=json.loads(payload) if payload else {},
        run_name=run_name,
        deliveries=deliveries,
    )


def delivery(row: Sequence[Any], **changes: Any) -> Delivery:
    """A row of ``DELIVERY_COLUMNS`` as a ``Delivery``, with ``changes`` applied."""
    fields = dict(
        id=row[0],
        channel=row[1],
        payload=json.loads(row[2]),
        status=DeliveryStatus(row[3]),
        attempts=row[4],
        created_at=row[5],
        next_attempt_at=row[6],
        sent_at=row[7],
        last_error=row[8],
    )
    fields.update(changes)
    return Delivery(**fields)


SILENCE_FIELDS = (
    "id", "rule", "run_id", "project", "starts_at", "ends_at", "comment", "created_by", "created_at", "expired_at",
)  # fmt: skip


def silence_dict(row: Sequence[Any], now: float) -> dict[str, Any]:
    """A ``silences`` row (``SILENCE_FIELDS``) as the API shows it, with whether it is on at ``now``."""
    item = dict(zip(SILENCE_FIELDS, row, strict=True))
    item["active"] = item["expired_at"] is None and item["starts_at"] <= now < item["ends_at"]
    return item


TOKEN_FIELDS = ("id", "name", "role", "prefix", "created_at", "last_used_at", "revoked_at")


# ------------------------------------------------------------------ runs as the API shows them


def page_entry(run: RunRecord) -> dict[str, Any]:
    """A run of a search page before its summaries: no env (it can be large; the detail has it)."""
    entry = as_dict(run)
    del entry["env"]
    entry["metrics"], entry["params"], entry["metric_count"] = {}, {}, 0
    return entry


def add_page_summaries(
    runs: list[dict[str, Any]], series_rows: Sequence[Sequence[Any]], param_rows: Sequence[Sequence[Any]]
) -> None:
    """The latest values and params of a page of runs, at most ``MAX_LIST_KEYS`` each.

    ``series_rows``: ``(run_id, key, last, last_bits, last_step)``; ``param_rows``: ``(run_id,
    key, value)``; both ordered by run then key.
    """
    by_id = {run["id"]: run for run in runs}
    for run_id, key, last, bits, step in series_rows:
        run = by_id[run_id]
        run["metric_count"] += 1
        if len(run["metrics"]) < MAX_LIST_KEYS:
            run["metrics"][key] = {"last": json_number(from_columns(last, bits)), "step": step}
    for run_id, key, value in param_rows:
        if len(by_id[run_id]["params"]) < MAX_LIST_KEYS:
            by_id[run_id]["params"][key] = json.loads(value)


def metric_summaries(rows: Sequence[Sequence[Any]]) -> dict[str, MetricSummary]:
    """``(key, last, last_bits, last_step, min, max, count)`` rows as a run's summaries."""
    return {
        key: MetricSummary(key, from_columns(last, bits), step, low, high, count)
        for key, last, bits, step, low, high, count in rows
    }


def metric_details(rows: Sequence[Sequence[Any]]) -> dict[str, dict[str, Any]]:
    """``(key, kind, last, last_bits, last_step, min, max, count)`` rows as a run detail's metrics."""
    return {
        key: {
            "kind": kind,
            "last": json_number(from_columns(last, bits)),
            "step": step,
            "min": json_number(low),
            "max": json_number(high),
            "count": count,
        }
        for key, kind, last, bits, step, low, high, count in rows
    }


def writer_dicts(rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """``(writer, committed, started_at, env)`` rows."""
    return [{"writer": w, "committed": c, "started_at": at, "env": json.loads(env)} for w, c, at, env in rows]
