"""``MemoryOutbox``: the ``OutboxStore`` protocol in memory, for tests and demos.

It keeps every error of every attempt (``errors``), which a real store does not, so a
test can check what each retry saw.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from alerts.outbox import Delivery, DeliveryStatus

__all__ = ["MemoryOutbox"]


@dataclass
class MemoryOutbox:
    """``OutboxStore`` in memory, for tests and ``runwatch demo`` (thread-safe).

    >>> outbox = MemoryOutbox()
    >>> outbox.add_deliveries(deliveries_for(transitions, now=0.0))
    >>> [d.status for d in outbox.all()]
    """

    rows: dict[str, Delivery] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)  # every error of every attempt
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_deliveries(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        with self._lock:
            inserted = [d for d in deliveries if d.id not in self.rows]
            for delivery in inserted:
                self.rows[delivery.id] = delivery
            return inserted

    def claim_due(self, now: float, limit: int, lease_until: float) -> list[Delivery]:
        with self._lock:
            due = sorted(
                (d for d in self.rows.values() if d.status == DeliveryStatus.PENDING and d.next_attempt_at <= now),
                key=lambda d: (d.next_attempt_at, d.created_at, d.id),
            )[:limit]
            claimed = [replace(d, attempts=d.attempts + 1, next_attempt_at=lease_until) for d in due]
            for delivery in claimed:
                self.rows[delivery.id] = delivery
            return claimed

    def mark_sent(self, id: str, now: float) -> None:
        with self._lock:
            self.rows[id] = replace(self.rows[id], status=DeliveryStatus.SENT, sent_at=now)

    def mark_retry(self, id: str, next_attempt_at: float, error: str) -> None:
        with self._lock:
            self.rows[id] = replace(self.rows[id], next_attempt_at=next_attempt_at, last_error=error)
            self.errors.setdefault(id, []).append(error)

    def mark_failed(self, id: str, now: float, error: str) -> None:
        with self._lock:
            self.rows[id] = replace(self.rows[id], status=DeliveryStatus.FAILED, last_error=error)
            self.errors.setdefault(id, []).append(error)

    def all(self) -> list[Delivery]:
        with self._lock:
            return list(self.rows.values())

    def pending(self) -> list[Delivery]:
        return [d for d in self.all() if d.status == DeliveryStatus.PENDING]

    def __repr__(self) -> str:
        counts = {s.value: 0 for s in DeliveryStatus}
        for delivery in self.all():
            counts[delivery.status.value] += 1
        return "<MemoryOutbox " + " ".join(f"{k}={v}" for k, v in counts.items()) + ">"
