"""One websocket client's pending data, bounded: the hub adds entries, the session takes frames.

A client that keeps up gets every point; one that lags has its buffer collapsed to the latest
value per series (``"coalesced": true``), so its memory stays bounded and no client ever waits
for another.
"""

from __future__ import annotations

import asyncio
from typing import Any

from emitter.events import VALUE_KINDS, Batch, Kind, json_number

from .protocol import RULE_ALERT, Subscription, cursor_json

MAX_EVENTS_PENDING = 1000


def _alert_value(value: Any) -> Any:
    """A transition's value as frames write numbers ('nan'/'inf' strings become NaN/Infinity)."""
    if isinstance(value, str):
        return json_number(float(value))
    return json_number(value) if isinstance(value, float) else value


class LiveClient:
    """One websocket's pending data: bounded, coalesced to the latest values when the client lags.

    >>> client = LiveClient(Subscription(runs=frozenset({"9f2c"})), max_pending=50_000)
    >>> client.offer(shard, entry_id, batch)          # the hub, for each entry of a subscribed run
    >>> frame = client.take_frame(cursor)             # the session, whenever its last frame is out
    """

    def __init__(self, sub: Subscription, max_pending: int) -> None:
        self.sub = sub
        self.max_pending = max_pending
        self.series: dict[tuple[str, str], tuple[list[int], list[float]]] = {}
        self.pending = 0
        self.events: list[dict[str, Any]] = []
        self.heartbeats: set[str] = set()
        self.coalesced = False
        self.gap = False
        self.errors: list[str] = []
        self.catching_up = False
        self.held: list[tuple[int, str, Batch]] = []
        self.cursor: dict[int, str] = {}
        self.wake = asyncio.Event()
        # counters
        self.frames = 0
        self.points_sent = 0
        self.coalesce_count = 0
        self.max_pending_seen = 0

    def __repr__(self) -> str:
        return (
            f"<LiveClient frames={self.frames} points_sent={self.points_sent} pending={self.pending}"
            f" coalesced={self.coalesce_count}>"
        )

    def offer(self, shard: int, entry_id: str, batch: Batch) -> None:
        """A new stream entry for this client (held back while it catches up from a cursor)."""
        if self.catching_up:
            self.held.append((shard, entry_id, batch))
            if len(self.held) > self.max_pending:  # catching up takes too long: tell the client to reload
                self.held.clear()
                self.gap = True
            return
        self.add(shard, entry_id, batch)
        self.wake.set()

    def release_held(self) -> None:
        """Catching up is over: add what arrived meanwhile, in order, and wake the sender."""
        for shard, entry_id, batch in self.held:
            self.add(shard, entry_id, batch)
        self.held.clear()
        self.catching_up = False
        self.wake.set()

    def add(self, shard: int, entry_id: str, batch: Batch) -> None:
        self.cursor[shard] = entry_id
        keys = self.sub.keys
        run = batch.run_id
        for event in batch.events:
            kind = event.kind
            payload = event.payload
            if kind in VALUE_KINDS:
                step = payload["step"]
                for key, value in payload["values"].items():
                    if keys is not None and key not in keys:
                        continue
                    slot = self.series.get((run, key))
                    if slot is None:
                        slot = self.series[(run, key)] = ([], [])
                    slot[0].append(step)
                    slot[1].append(value)
                    self.pending += 1
                if self.pending > self.max_pending:
                    self.max_pending_seen = max(self.max_pending_seen, self.pending)
                    self._coalesce()
            elif kind == Kind.HEARTBEAT:
                self.heartbeats.add(run)
            else:
                self._event(run, event.ts, kind, payload)
        if self.pending > self.max_pending_seen:
            self.max_pending_seen = self.pending

    def _event(self, run: str, ts: float, kind: str, payload: dict[str, Any]) -> None:
        item: dict[str, Any] = {"kind": kind, "run": run, "ts": ts}
        if kind == Kind.RUN_START:
            item.update(project=payload.get("project"), name=payload.get("name"), tags=payload.get("tags", []))
        elif kind == Kind.STATUS:
            item.update(status=payload.get("status"), exit_code=payload.get("exit_code"))
        elif kind == Kind.ALERT:
            item.update(title=payload.get("title"), text=payload.get("text"), level=payload.get("level"))
        elif kind == Kind.NOTE:
            item.update(text=payload.get("text"))
        elif kind == Kind.TAGS:
            item.update(tags=payload.get("tags"))
        elif kind == Kind.PARAMS:
            item.update(keys=sorted(payload.get("params", {}))[:100])
        elif kind == Kind.ARTIFACT:
            item.update(name=payload.get("name"), uri=payload.get("uri"))
        elif kind == RULE_ALERT:
            item.update(
                {
                    field: payload.get(field)
                    for field in (
                        *("rule", "state", "severity", "title", "text", "metric", "step"),
                        *("episode", "seq", "subject", "run_name"),  # the episode it belongs to, and the run's name
                    )
                },
                value=_alert_value(payload.get("value")),
                repeat=bool(payload.get("repeat")),
            )
        self.events.append(item)
        if len(self.events) > MAX_EVENTS_PENDING:
            del self.events[: len(self.events) - MAX_EVENTS_PENDING]
            self.coalesced = True

    def _coalesce(self) -> None:
        """Keep only the latest point of each series: the client lags, it gets latest values."""
        for slot in self.series.values():
            if len(slot[0]) > 1:
                del slot[0][:-1]
                del slot[1][:-1]
        self.pending = len(self.series)
        self.coalesced = True
        self.coalesce_count += 1

    def take_frame(self, cursor: dict[int, str]) -> dict[str, Any] | None:
        """Everything pending as one frame (None if nothing is), and reset."""
        if not (self.series or self.events or self.heartbeats or self.errors or self.gap):
            return None
        series = [
            {"run": run, "key": key, "steps": steps, "values": [json_number(v) for v in values]}
            for (run, key), (steps, values) in self.series.items()
        ]
        frame = {
            "type": "frame",
            "cursor": cursor_json(cursor),
            "series": series,
            "events": self.events,
            "heartbeats": sorted(self.heartbeats),
            "coalesced": self.coalesced,
            "gap": self.gap,
        }
        if self.errors:
            frame["errors"] = self.errors
        self.points_sent += self.pending
        self.series = {}
        self.pending = 0
        self.events = []
        self.heartbeats = set()
        self.errors = []
        self.coalesced = self.gap = False
        self.frames += 1
        return frame
