"""The alert side of the SQLite store: engine state, alert history, the delivery outbox.

``SQLiteAlerts`` implements ``base.AlertStore`` (and so ``alerts.OutboxStore``) over the
backend's ``Database``. The ``*_in_tx`` methods run inside a transaction already held —
the events' write, or a timer tick — so alert transitions commit with what caused them.
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


class SQLiteAlerts:
    """Alert persistence over the backend's SQLite database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._conn = db.conn

    def transaction(self, work: Callable[[], T]) -> T:
        """Run ``work`` inside one write transaction (it may call the ``*_in_tx`` methods)."""
        with self._db.transaction():
            return work()

    # ------------------------------------------------------------ engine state

    def alert_state_rows(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        with self._db.lock:
            rows = self._conn.execute("SELECT rule, run_id, subject, data FROM alert_state").fetchall()
        return [(rule, run, subject, json.loads(data)) for rule, run, subject, data in rows]

    def alert_state_rows_in_tx(self, run_ids: Sequence[str]) -> list[tuple[str, str, str, dict[str, Any]]]:
        rows: list[tuple[str, str, str, str]] = []
        unique = sorted(set(run_ids))
        for start in range(0, len(unique), 500):  # under SQLite's bound-variable limit
            part = unique[start : start + 500]
            rows += self._conn.execute(
                f"SELECT rule, run_id, subject, data FROM alert_state WHERE run_id IN ({', '.join('?' * len(part))})",
                part,
            ).fetchall()
        return [(rule, run, subject, json.loads(data)) for rule, run, subject, data in rows]

    def save_alert_state_in_tx(self, changes: Sequence[tuple[tuple[str, str, str], dict[str, Any] | None]]) -> None:
        for (rule, run_id, subject), data in changes:
            if data is None:
                self._conn.execute(
                    "DELETE FROM alert_state WHERE rule = ? AND run_id = ? AND subject = ?", (rule, run_id, subject)
                )
            else:
                self._conn.execute(
                    "INSERT INTO alert_state (rule, run_id, subject, data) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (rule, run_id, subject) DO UPDATE SET data = excluded.data",
                    (rule, run_id, subject, json.dumps(data)),
                )

    def record_transitions_in_tx(self, transitions: Sequence[Transition]) -> None:
        self._conn.executemany(
            "INSERT OR IGNORE INTO alerts (id, rule, run_id, state, kind, severity, title, text, metric, value, step,"
            " at, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        row = self._conn.execute("SELECT project, name, tags FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        return RunInfo(run_id, row[0], row[1], frozenset(json.loads(row[2])))

    def liveness_in_tx(self) -> list[Liveness]:
        """Runs the stall detector watches: running or lost, on the collector's clock."""
        rows = self._conn.execute(
            "SELECT id, last_event_at, coalesce(last_progress_at, last_event_at), status FROM runs"
            " WHERE status IN ('running', 'lost') AND last_event_at IS NOT NULL"
        ).fetchall()
        return [Liveness(run_id, last, progress, status) for run_id, last, progress, status in rows]

    def mark_lost_in_tx(self, run_ids: Sequence[str], now: float) -> list[str]:
        return mark_lost_in(self._conn, run_ids, now)

    # ------------------------------------------------------------------ outbox

    def add_deliveries(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """OutboxStore: insert deliveries as given (inside the current transaction when there is one)."""
        inserted = []
        with self._db.lock:
            for d in deliveries:
                cursor = self._conn.execute(
                    "INSERT INTO alert_deliveries (id, alert_id, channel, payload, status, attempts, created_at,"
                    " next_attempt_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT (id) DO NOTHING",
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
                if cursor.rowcount == 1:
                    inserted.append(d)
        return inserted

    def add_silenced_in_tx(self, deliveries: Sequence[Delivery], reason: str) -> None:
        """Record deliveries a silence muted: status 'silenced', never claimed, the silence named."""
        self._conn.executemany(
            "INSERT INTO alert_deliveries (id, alert_id, channel, payload, status, attempts, created_at,"
            " next_attempt_at, last_error) VALUES (?, ?, ?, ?, 'silenced', 0, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
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
        rows = self._conn.execute(
            "SELECT id, rule, run_id, project, starts_at, ends_at, comment FROM silences"
            " WHERE ends_at > ? AND starts_at <= ? AND expired_at IS NULL ORDER BY id",
            (now, now),
        ).fetchall()
        return [Silence(*row) for row in rows]

    def claim_due(self, now: float, limit: int, lease_until: float) -> list[Delivery]:
        """OutboxStore: lease due deliveries (attempts + 1, due again at ``lease_until``)."""

        def claim() -> list[Delivery]:
            rows = self._conn.execute(
                f"SELECT {DELIVERY_COLUMNS} FROM alert_deliveries WHERE status = 'pending' AND next_attempt_at <= ?"
                " ORDER BY next_attempt_at, created_at, id LIMIT ?",
                (now, limit),
            ).fetchall()
            self._conn.executemany(
                "UPDATE alert_deliveries SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?",
                [(lease_until, row[0]) for row in rows],
            )
            return [delivery(row, attempts=row[4] + 1, next_attempt_at=lease_until) for row in rows]

        return self.transaction(claim)

    def mark_sent(self, id: str, now: float) -> None:
        with self._db.lock:
            self._conn.execute("UPDATE alert_deliveries SET status = 'sent', sent_at = ? WHERE id = ?", (now, id))

    def mark_retry(self, id: str, next_attempt_at: float, error: str) -> None:
        with self._db.lock:
            self._conn.execute(
                "UPDATE alert_deliveries SET next_attempt_at = ?, last_error = ? WHERE id = ?",
                (next_attempt_at, error, id),
            )

    def mark_failed(self, id: str, now: float, error: str) -> None:
        with self._db.lock:
            self._conn.execute(
                "UPDATE alert_deliveries SET status = 'failed', last_error = ?, sent_at = NULL WHERE id = ?",
                (error, id),
            )

    # ------------------------------------------------------------------ reading

    def history(self, *, run_id: str | None = None, state: str | None = None, limit: int = 100) -> list[AlertRecord]:
        """Rule alerts newest first, each with its run's name and its deliveries (channel, status, attempts, error)."""
        where, args = [], []
        if run_id is not None:
            where.append("a.run_id = ?")
            args.append(run_id)
        if state is not None:
            where.append("a.state = ?")
            args.append(state)
        sql = (
            "SELECT a.id, a.rule, a.run_id, a.state, a.kind, a.severity, a.title, a.text, a.metric, a.value, a.step,"
            " a.at, a.payload, r.name FROM alerts a LEFT JOIN runs r ON r.id = a.run_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY a.at DESC, a.rowid DESC LIMIT ?"
        )
        with self._db.lock:
            rows = self._conn.execute(sql, (*args, limit)).fetchall()
            records = []
            for row in rows:
                deliveries = [
                    {"channel": c, "status": s, "attempts": a, "sent_at": sent, "last_error": err}
                    for c, s, a, sent, err in self._conn.execute(
                        "SELECT channel, status, attempts, sent_at, last_error FROM alert_deliveries"
                        " WHERE alert_id = ? ORDER BY channel",
                        (row[0],),
                    )
                ]
                records.append(alert_record(row, deliveries))
        return records

    def user_alerts(self, *, run_id: str | None = None, limit: int = 100) -> list[UserAlert]:
        """Alerts raised by training code (``run.alert()``), newest first."""
        sql = (
            "SELECT u.id, u.run_id, r.name, u.ts, u.title, u.text, u.level FROM user_alerts u"
            " LEFT JOIN runs r ON r.id = u.run_id"
        )
        args: list[Any] = []
        if run_id is not None:
            sql += " WHERE u.run_id = ?"
            args.append(run_id)
        return [UserAlert(*row) for row in self._db.read(sql + " ORDER BY u.id DESC LIMIT ?", [*args, limit])]

    def deliveries(self, status: str | None = None) -> list[Delivery]:
        """Every delivery (of one status), oldest first."""
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        rows = self._db.read(f"SELECT {DELIVERY_COLUMNS} FROM alert_deliveries {where} ORDER BY created_at, id", args)
        return [delivery(row) for row in rows]
