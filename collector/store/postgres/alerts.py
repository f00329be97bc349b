"""The alert side of the PostgreSQL store: engine state, alert history, the delivery outbox.

``PostgresAlerts`` implements ``base.AlertStore`` (and so ``alerts.OutboxStore``). The
``*_in_tx`` methods run on the connection of the transaction this thread holds — the
events' write, or a timer tick — so alert transitions commit with what caused them.
``claim_due`` leases rows ``FOR UPDATE SKIP LOCKED``: several delivery workers (several
collectors) each claim different deliveries, and none waits for another's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from alerts import Delivery, Liveness, RunInfo, Silence, Transition

from ..base import AlertRecord, UserAlert
from ..format.rows import DELIVERY_COLUMNS, alert_record, delivery, json_value
from .database import Database
from .runs import mark_lost_in

T = TypeVar("T")

_CLAIM = (
    "WITH due AS ("
    " SELECT id, next_attempt_at AS due_at FROM alert_deliveries WHERE status = 'pending' AND next_attempt_at <= %s"
    " ORDER BY next_attempt_at, created_at, id LIMIT %s FOR UPDATE SKIP LOCKED)"
    " UPDATE alert_deliveries AS d SET attempts = d.attempts + 1, next_attempt_at = %s FROM due WHERE d.id = due.id"
    f" RETURNING {', '.join(f'd.{column.strip()}' for column in DELIVERY_COLUMNS.split(','))}, due.due_at"
)


class PostgresAlerts:
    """Alert persistence over the backend's PostgreSQL database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def transaction(self, work: Callable[[], T]) -> T:
        """Run ``work`` inside one write transaction (it may call the ``*_in_tx`` methods)."""
        with self._db.transaction():
            return work()

    # ------------------------------------------------------------ engine state

    def alert_state_rows(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        rows = self._db.read("SELECT rule, run_id, subject, data FROM alert_state")
        return [(rule, run, subject, json.loads(data)) for rule, run, subject, data in rows]

    def alert_state_rows_in_tx(self, run_ids: Sequence[str]) -> list[tuple[str, str, str, dict[str, Any]]]:
        rows = self._db.read(
            "SELECT rule, run_id, subject, data FROM alert_state WHERE run_id = ANY(%s)", (sorted(set(run_ids)),)
        )
        return [(rule, run, subject, json.loads(data)) for rule, run, subject, data in rows]

    def save_alert_state_in_tx(self, changes: Sequence[tuple[tuple[str, str, str], dict[str, Any] | None]]) -> None:
        gone = [(rule, run_id, subject) for (rule, run_id, subject), data in changes if data is None]
        kept = [
            (rule, run_id, subject, json.dumps(data)) for (rule, run_id, subject), data in changes if data is not None
        ]
        self._db.executemany("DELETE FROM alert_state WHERE rule = %s AND run_id = %s AND subject = %s", gone)
        self._db.executemany(
            "INSERT INTO alert_state (rule, run_id, subject, data) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (rule, run_id, subject) DO UPDATE SET data = excluded.data",
            kept,
        )

    def record_transitions_in_tx(self, transitions: Sequence[Transition]) -> None:
        self._db.executemany(
            "INSERT INTO alerts (id, rule, run_id, state, kind, severity, title, text, metric, value, step, at, payload)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
            [
                (
                    t.id,
                    t.rule,
                    t.run_id,
                    t.state,
                    t.kind,
                    t.severity,
                    t.title,
                    t.text,
                    t.metric,
                    json_value(t.value),
                    t.step,
                    t.at,
                    json.dumps(t.to_dict()),
                )
                for t in transitions
            ],
        )

    def run_info_in_tx(self, run_id: str) -> RunInfo | None:
        rows = self._db.read("SELECT project, name, tags FROM runs WHERE id = %s", (run_id,))
        if not rows:
            return None
        project, name, tags = rows[0]
        return RunInfo(run_id, project, name, frozenset(json.loads(tags)))

    def liveness_in_tx(self) -> list[Liveness]:
        """Runs the stall detector watches: running or lost, on the collector's clock."""
        rows = self._db.read(
            "SELECT id, last_event_at, coalesce(last_progress_at, last_event_at), status FROM runs"
            " WHERE status IN ('running', 'lost') AND last_event_at IS NOT NULL"
        )
        return [Liveness(run_id, last, progress, status) for run_id, last, progress, status in rows]

    def mark_lost_in_tx(self, run_ids: Sequence[str], now: float) -> list[str]:
        return mark_lost_in(self._db, run_ids, now)

    # ------------------------------------------------------------------ outbox

    def add_deliveries(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """OutboxStore: insert deliveries as given (inside the current transaction when there is one)."""
        inserted = []
        for d in deliveries:
            rows = self._db.read(
                "INSERT INTO alert_deliveries (id, alert_id, channel, payload, status, attempts, created_at,"
                " next_attempt_at) VALUES (%s, %s, %s, %s, 'pending', %s, %s, %s) ON CONFLICT (id) DO NOTHING"
                " RETURNING id",
                (
                    d.id,
                    d.id.rsplit("@", 1)[0],
                    d.channel,
                    json.dumps(d.payload),
                    d.attempts,
                    d.created_at,
                    d.next_attempt_at,
                ),
            )
            if rows:
                inserted.append(d)
        return inserted

    def add_silenced_in_tx(self, deliveries: Sequence[Delivery], reason: str) -> None:
        """Record deliveries a silence muted: status 'silenced', never claimed, the silence named."""
        self._db.executemany(
            "INSERT INTO alert_deliveries (id, alert_id, channel, payload, status, attempts, created_at,"
            " next_attempt_at, last_error) VALUES (%s, %s, %s, %s, 'silenced', 0, %s, %s, %s)"
            " ON CONFLICT (id) DO NOTHING",
            [
                (
                    d.id,
                    d.id.rsplit("@", 1)[0],
                    d.channel,
                    json.dumps(d.payload),
                    d.created_at,
                    d.next_attempt_at,
                    reason,
                )
                for d in deliveries
            ],
        )

    def active_silences_in_tx(self, now: float) -> list[Silence]:
        rows = self._db.read(
            "SELECT id, rule, run_id, project, starts_at, ends_at, comment FROM silences"
            " WHERE ends_at > %s AND starts_at <= %s AND expired_at IS NULL ORDER BY id",
            (now, now),
        )
        return [Silence(*row) for row in rows]

    def claim_due(self, now: float, limit: int, lease_until: float) -> list[Delivery]:
        """OutboxStore: lease due deliveries (attempts + 1, due again at ``lease_until``), oldest due first.

        Rows another worker is claiming at this moment are skipped, never waited for.
        """
        rows = self.transaction(lambda: self._db.read(_CLAIM, (now, limit, lease_until)))
        rows.sort(key=lambda row: (row[-1], row[5], row[0]))  # as they were due: next_attempt_at, created_at, id
        return [delivery(row[:-1]) for row in rows]

    def mark_sent(self, id: str, now: float) -> None:
        self._db.execute("UPDATE alert_deliveries SET status = 'sent', sent_at = %s WHERE id = %s", (now, id))

    def mark_retry(self, id: str, next_attempt_at: float, error: str) -> None:
        self._db.execute(
            "UPDATE alert_deliveries SET next_attempt_at = %s, last_error = %s WHERE id = %s",
            (next_attempt_at, error, id),
        )

    def mark_failed(self, id: str, now: float, error: str) -> None:
        self._db.execute(
            "UPDATE alert_deliveries SET status = 'failed', last_error = %s, sent_at = NULL WHERE id = %s",
            (error, id),
        )

    # ------------------------------------------------------------------ reading

    def history(self, *, run_id: str | None = None, state: str | None = None, limit: int = 100) -> list[AlertRecord]:
        """Rule alerts newest first, each with its run's name and its deliveries (channel, status, attempts, error)."""
        where, args = [], []
        if run_id is not None:
            where.append("a.run_id = %s")
            args.append(run_id)
        if state is not None:
            where.append("a.state = %s")
            args.append(state)
        rows = self._db.read(
            "SELECT a.id, a.rule, a.run_id, a.state, a.kind, a.severity, a.title, a.text, a.metric, a.value, a.step,"
            " a.at, a.payload, r.name FROM alerts a LEFT JOIN runs r ON r.id = a.run_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY a.at DESC, a.seq DESC LIMIT %s",
            (*args, limit),
        )
        deliveries: dict[str, list[dict[str, Any]]] = {row[0]: [] for row in rows}
        if rows:
            for alert_id, c, s, a, sent, err in self._db.read(
                "SELECT alert_id, channel, status, attempts, sent_at, last_error FROM alert_deliveries"
                " WHERE alert_id = ANY(%s::text[]) ORDER BY alert_id, channel",
                (list(deliveries),),
            ):
                deliveries[alert_id].append(
                    {"channel": c, "status": s, "attempts": a, "sent_at": sent, "last_error": err}
                )
        return [alert_record(row, deliveries[row[0]]) for row in rows]

    def user_alerts(self, *, run_id: str | None = None, limit: int = 100) -> list[UserAlert]:
        """Alerts raised by training code (``run.alert()``), newest first."""
        sql = (
            "SELECT u.id, u.run_id, r.name, u.ts, u.title, u.text, u.level FROM user_alerts u"
            " LEFT JOIN runs r ON r.id = u.run_id"
        )
        args: list[Any] = []
        if run_id is not None:
            sql += " WHERE u.run_id = %s"
            args.append(run_id)
        return [UserAlert(*row) for row in self._db.read(sql + " ORDER BY u.id DESC LIMIT %s", [*args, limit])]

    def deliveries(self, status: str | None = None) -> list[Delivery]:
        """Every delivery (of one status), oldest first."""
        where, args = ("WHERE status = %s", (status,)) if status else ("", ())
        rows = self._db.read(f"SELECT {DELIVERY_COLUMNS} FROM alert_deliveries {where} ORDER BY created_at, id", args)
        return [delivery(row) for row in rows]
