"""Writing runs straight into a store through its real write path (rollups included)."""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

from emitter.events import Batch, Event

_seq = itertools.count()


class FakeRun:
    """A run written batch by batch into ``store`` as the consumer would write it.

    >>> run = FakeRun(store, "cifar", name="resnet-1", config={"lr": 0.01})
    >>> run.log({"loss": 0.5}, step=1)
    """

    def __init__(
        self,
        store: Any,
        project: str,
        *,
        name: str | None = None,
        config: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        env: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> None:
        self.store = store
        self.id = run_id or uuid.uuid4().hex[:16]
        self.writer = f"w-{uuid.uuid4().hex[:8]}"
        self.seq = 0
        payload = {
            "project": project,
            "name": name or self.id,
            "config": config or {},
            "tags": tags or [],
            "env": env or {},
        }
        self.emit("run.start", payload)

    def emit(self, kind: str, payload: dict[str, Any], ts: float | None = None) -> None:
        self.write([(kind, payload, ts)])

    def write(self, items: list[tuple[str, dict[str, Any], float | None]]) -> None:
        events = []
        for kind, payload, ts in items:
            events.append(Event(self.id, self.writer, self.seq, ts or time.time(), kind, payload))
            self.seq += 1
        self.store.write([Batch(self.id, self.writer, events)], [], time.time())

    def log(self, values: dict[str, float], step: int) -> None:
        self.emit("metrics", {"step": step, "values": {k: float(v) for k, v in values.items()}})

    def log_many(self, rows: list[tuple[int, dict[str, float]]]) -> None:
        for start in range(0, len(rows), 2000):
            chunk = rows[start : start + 2000]
            self.write(
                [("metrics", {"step": s, "values": {k: float(v) for k, v in vals.items()}}, None) for s, vals in chunk]
            )

    def status(self, status: str) -> None:
        self.emit("status", {"status": status})
