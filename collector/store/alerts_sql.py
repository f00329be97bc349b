"""The alert side of the SQLite store: engine state, alert history, the delivery outbox.

A mixin of ``SQLiteStore`` (it uses its connection and lock). The ``*_in_tx`` methods run
inside a transaction the store already holds — the events' write, or a timer tick — so
alert transitions commit together with what caused them.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from alerts import Delivery, DeliveryStatus, Liveness, RunInfo, Silence, Transition

T = TypeVar("T")
_DELIVERY_COLUMNS = "id, channel, payload, status, attempts, created_at, next_attempt_at, sent_at, last_error"


def _json_number(value: float | None) -> str | None:
    if value is None:
        return None
    if math.isnan(value):
        return '"NaN"'
    if math.isinf(value):
        return '"Infinity"' if value > 0 else '"-Infinity"'
    return json.dumps(value)


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One row of the alert history, with its deliveries' outcome."""

    id: str
    rule: str
    run_id: str
    state: str
    kind: str
    severity: str
    title: str
    text: str
    metric: str | None
    value: Any
    step: int | None
    at: float
    deliveries: list[dict[str, Any]]


class AlertsTables:
    """Alert persistence over the store's SQLite connection."""

    _db: sqlite3.Connection
    _lock: threading.RLock

    def transaction(self, work: Callable[[], T]) -> T:
        """Run ``work`` inside one write transaction (it may call the ``*_in_tx`` methods)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = work()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return result

    # ------------------------------------------------------------ engine state

    def alert_state_rows(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute("SELECT rule, run_id, subject, data FROM alert_state").fetchall()
        return [(rule, run, subject, json.loads(data)) for rule, run, subject, data in rows]

    def save_alert_state_in_tx(self, changes: Sequence[tuple[tuple[str, str, str], dict[str, Any] | None]]) -> None:
        for (rule, run_id, subject), data in changes:
            if data is None:
                self._db.execute(
                    "DELETE FROM alert_state WHERE rule = ? AND run_id = ? AND subject = ?", (rule, run_id, subject)
                )
            else:
                self._db.execute(
                    "INSERT INTO alert_state (rule, run_id, subject, data) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (rule, run_id, subject) DO UPDATE SET data = excluded.data",
                    (rule, run_id, subject, json.dumps(data)),
                )

    def record_transitions_in_tx(self, transitions: Sequence[Transition]) -> None:
        self._db.executemany(
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
                    _json_number(t.value),
                    t.step,
                    t.at,
                    json.dumps(t.to_dict()),
                )
                for t in transitions
            ],
        )

    def run_info_in_tx(self, run_id: str) -> RunInfo | None:
        row = self._db.execute("SELECT project, name, tags FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        return RunInfo(run_id, row[0], row[1], frozenset(json.loads(row[2])))

    def liveness_in_tx(self) -> list[Liveness]:
        """Runs the stall detector watches: running or lost, on the collector's clock."""
        rows = self._db.execute(
            "SELECT id, last_event_at, coalesce(last_progress_at, last_event_at), status FROM runs"
            " WHERE status IN ('running', 'lost') AND last_event_at IS NOT NULL"
        ).fetchall()
        return [Liveness(run_id, last, progress, status) for run_id, last, progress, status in rows]

    def mark_lost_in_tx(self, run_ids: Sequence[str], now: float) -> list[str]:
        changed = []
        for run_id in run_ids:
            cursor = self._db.execute(
                "UPDATE runs SET status = 'lost', updated_at = ? WHERE id = ? AND status = 'running'", (now, run_id)
            )
            if cursor.rowcount:
                changed.append(run_id)
        return changed

    # ------------------------------------------------------------------ outbox

    def add_deliveries(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """OutboxStore: insert deliveries as given (inside the current transaction when there is one)."""
        inserted = []
        with self._lock:
            for d in deliveries:
                cursor = self._db.execute(
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
        self._db.executemany(
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
        rows = self._db.execute(
            "SELECT id, rule, run_id, project, starts_at, ends_at, comment FROM silences"
            " WHERE ends_at > ? AND starts_at <= ? AND expired_at IS NULL ORDER BY id",
            (now, now),
        ).fetchall()
        return [Silence(*row) for row in rows]

    def claim_due(self, now: float, limit: int, lease_until: float) -> list[Delivery]:
        """OutboxStore: lease due deliveries (attempts + 1, due again at ``lease_until``)."""

        def claim() -> list[Delivery]:
            rows = self._db.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM alert_deliveries WHERE status = 'pending' AND next_attempt_at <= ?"
                " ORDER BY next_attempt_at, created_at, id LIMIT ?",
                (now, limit),
            ).fetchall()
            self._db.executemany(
                "UPDATE alert_deliveries SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?",
                [(lease_until, row[0]) for row in rows],
            )
            return [
                Delivery(
                    id=row[0],
                    channel=row[1],
                    payload=json.loads(row[2]),
                    status=DeliveryStatus(row[3]),
                    attempts=row[4] + 1,
                    created_at=row[5],
                    next_attempt_at=lease_until,
                    sent_at=row[7],
                    last_error=row[8],
                )
                for row in rows
            ]

        return self.transaction(claim)

    def mark_sent(self, id: str, now: float) -> None:
        with self._lock:
            self._db.execute("UPDATE alert_deliveries SET status = 'sent', sent_at = ? WHERE id = ?", (now, id))

    def mark_retry(self, id: str, next_attempt_at: float, error: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE alert_deliveries SET next_attempt_at = ?, last_error = ? WHERE id = ?",
                (next_attempt_at, error, id),
            )

    def mark_failed(self, id: str, now: float, error: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE alert_deliveries SET status = 'failed', last_error = ?, sent_at = NULL WHERE id = ?",
                (error, id),
            )

    # ------------------------------------------------------------------ reading

    def list_alerts(self, *, run_id: str | None = None, limit: int = 100) -> list[AlertRecord]:
        """Newest first, each with its deliveries (channel, status, attempts, error)."""
        where, args = ("WHERE run_id = ?", [run_id]) if run_id else ("", [])
        with self._lock:
            rows = self._db.execute(
                "SELECT id, rule, run_id, state, kind, severity, title, text, metric, value, step, at FROM alerts"
                f" {where} ORDER BY at DESC, id DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
            records = []
            for row in rows:
                deliveries = [
                    {"channel": c, "status": s, "attempts": a, "sent_at": sent, "last_error": err}
                    for c, s, a, sent, err in self._db.execute(
                        "SELECT channel, status, attempts, sent_at, last_error FROM alert_deliveries"
                        " WHERE alert_id = ? ORDER BY channel",
                        (row[0],),
                    )
                ]
                value = json.loads(row[9]) if row[9] is not None else None
                records.append(AlertRecord(*row[:9], value, row[10], row[11], deliveries))
        return records

    def deliveries(self, status: str | None = None) -> list[Delivery]:
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM alert_deliveries {where} ORDER BY created_at, id", args
            ).fetchall()
        return [
            Delivery(
                id=r[0],
                channel=r[1],
                payload=json.loads(r[2]),
                status=DeliveryStatus(r[3]),
                attempts=r[4],
                created_at=r[5],
                next_attempt_at=r[6],
                sent_at=r[7],
                last_error=r[8],
            )
            for r in rows
        ]
