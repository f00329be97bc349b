"""Live push: ``WS /api/v1/live`` fed by plain XREAD of the event streams.

One ``LiveHub`` per API process reads every shard's stream with XREAD (no consumer
group, so any number of API replicas can serve live views) and hands each decoded
entry to the clients subscribed to its run or project. Every client has its own
bounded buffer and sender: frames go out at most every ``interval`` (100 ms), a slow
client's buffer collapses to the latest value per series (``"coalesced": true``), and
no client ever waits for another.

Protocol (JSON text messages)::

    → {"runs": ["9f2c..."], "keys": ["loss"], "cursor": {"0": "1700000000000-0"}, "token": "rw_..."}
      ({"project": "resnet"} instead of runs; {} for every run; token only when auth is on)
    ← {"type": "frame", "cursor": {"0": "...", "1": "..."}, "series": [{"run", "key", "steps", "values"}],
       "events": [{"kind": "status", "run", "status", ...}, ...], "heartbeats": [run ids],
       ("events" include {"kind": "rule_alert", "run", "rule", "state", "severity", "title",
        "metric", "value", "step", "episode", "seq", "subject", "run_name", ...} for alerts
        raised by the collector's rules)
       "coalesced": false, "gap": false}

The cursor has one more key than there are shards: the collector's alerts stream.
A client that reconnects sends the last ``cursor`` it received and gets exactly what it
missed (no gap, no duplicate); ``"gap": true`` means the streams were trimmed past it
and the client should reload over REST.

>>> hub = LiveHub(settings, redis=redis, store=store)
>>> app.add_api_websocket_route("/api/v1/live", hub.endpoint)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from emitter.events import Batch, ContractError, Event, Kind, decode_entry, json_number

from ..alert_stream import decode_fields
from .auth import auth_enabled, handshake_token, identify_websocket

logger = logging.getLogger(__name__)

_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
MAX_RUNS_PER_CLIENT = 1000
MAX_EVENTS_PENDING = 1000
AUTH_TIMEOUT = 10.0
RULE_ALERT = "rule_alert"  # frame events for alerts the collector's rules raised (from the alerts stream)
COLLECTOR_WRITER = "runwatch-collector"
KEEPALIVE = 15.0


def _parse_id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _alert_value(value: Any) -> Any:
    """A transition's value as frames write numbers ('nan'/'inf' strings become NaN/Infinity)."""
    if isinstance(value, str):
        return json_number(float(value))
    return json_number(value) if isinstance(value, float) else value


@dataclass(frozen=True, slots=True)
class Subscription:
    """What a client wants: some runs, one project, or everything; optionally only some keys."""

    runs: frozenset[str] = frozenset()
    project: str | None = None
    keys: frozenset[str] | None = None

    @property
    def everything(self) -> bool:
        return not self.runs and self.project is None

    @classmethod
    def parse(cls, message: dict[str, Any]) -> Subscription:
        runs = message.get("runs") or []
        keys = message.get("keys")
        project = message.get("project")
        if not isinstance(runs, list) or not all(isinstance(r, str) for r in runs) or len(runs) > MAX_RUNS_PER_CLIENT:
            raise ValueError(f"runs must be a list of at most {MAX_RUNS_PER_CLIENT} run ids")
        if project is not None and not isinstance(project, str):
            raise ValueError("project must be a string")
        if keys is not None and (not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)):
            raise ValueError("keys must be a list of metric keys")
        return cls(frozenset(runs), project, frozenset(keys) if keys else None)


def parse_cursor(raw: Any, shards: int) -> dict[int, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("cursor must be the object received in a frame")
    cursor: dict[int, str] = {}
    for shard, entry_id in raw.items():
        if not (str(shard).isdigit() and int(shard) < shards and isinstance(entry_id, str) and _ID.match(entry_id)):
            raise ValueError(f"bad cursor item {str(shard)[:10]!r}")
        cursor[int(shard)] = entry_id
    return cursor


class LiveClient:
    """One websocket's pending data: bounded, coalesced to the latest values when the client lags."""

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

    def add(self, shard: int, entry_id: str, batch: Batch) -> None:
        self.cursor[shard] = entry_id
        keys = self.sub.keys
        run = batch.run_id
        for event in batch.events:
            kind = event.kind
            payload = event.payload
            if kind == "metrics" or kind == "system":
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
            elif kind == "heartbeat":
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
            "cursor": {str(shard): entry_id for shard, entry_id in sorted(cursor.items())},
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


class LiveHub:
    """Reads the event streams once per process and fans entries out to websocket clients."""

    def __init__(
        self,
        settings: Any,
        *,
        redis: Any,
        store: Any,
        interval: float = 0.1,
        max_pending: int = 50_000,
        block_ms: int = 1000,
        read_count: int = 500,
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.store = store
        self.interval = interval
        self.max_pending = max_pending
        self.block_ms = block_ms
        self.read_count = read_count
        # the event shards, then the collector's alerts stream as one more "shard"
        self.streams: list[str] = [*settings.keys.streams(settings.shards), settings.keys.alerts]
        self.alert_shard = len(self.streams) - 1
        self.shard_of = {name: index for index, name in enumerate(self.streams)}
        self.positions: dict[str, str] = {}
        self.clients: set[LiveClient] = set()
        self.by_run: dict[str, set[LiveClient]] = {}
        self.by_project: dict[str, set[LiveClient]] = {}
        self.everything: set[LiveClient] = set()
        self.projects: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._start_lock: asyncio.Lock | None = None
        self.entries = 0
        self.decoded = 0
        self.undecodable = 0

    def __repr__(self) -> str:
        return f"<LiveHub clients={len(self.clients)} entries={self.entries} decoded={self.decoded}>"

    # ------------------------------------------------------------ reading

    async def start(self) -> None:
        """Start reading from the streams' current ends (idempotent)."""
        if self._task is not None and not self._task.done():
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._task is not None and not self._task.done():
                return
            for stream in self.streams:
                last = await self.redis.xrevrange(stream, "+", "-", count=1)
                self.positions[stream] = _text(last[0][0]) if last else "0-0"
            self._task = asyncio.create_task(self._read_forever(), name="runwatch-live")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _read_forever(self) -> None:
        while True:
            try:
                response = await self.redis.xread(dict(self.positions), count=self.read_count, block=self.block_ms)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis away: retry, never die
                logger.warning("live: XREAD failed (%s); retrying", exc)
                await asyncio.sleep(1.0)
                continue
            if not response:
                continue
            items = list(response.items()) if isinstance(response, dict) else response
            if self.by_project:
                await self._learn_projects(items)
            for stream, entries in items:
                name = _text(stream)
                shard = self.shard_of[name]
                for entry_id, fields in entries:
                    eid = _text(entry_id)
                    self.positions[name] = eid
                    self._dispatch(shard, eid, fields)
                self.entries += len(entries)

    async def _learn_projects(self, items: Iterable[Any]) -> None:
        unknown = {
            _text(fields.get(b"run", b""))
            for _, entries in items
            for _, fields in entries
            if fields.get(b"run") is not None and _text(fields[b"run"]) not in self.projects
        }
        if unknown:
            found = await asyncio.to_thread(self.store.runs.projects, sorted(unknown))
            if len(self.projects) > 100_000:
                self.projects.clear()
            self.projects.update(found)

    def _subscribers(self, run_id: str, project: str | None) -> set[LiveClient]:
        """Clients of every run, of this run, and of its project."""
        targets: set[LiveClient] = set(self.everything)
        targets.update(self.by_run.get(run_id, ()))
        if project is not None:
            targets.update(self.by_project.get(project, ()))
        return targets

    def _targets(self, run_id: str, fields: dict[bytes, bytes]) -> tuple[set[LiveClient], Batch | None]:
        batch: Batch | None = None
        project = self.projects.get(run_id)
        if self.by_project and project is None:  # its run.start may be in this very entry
            batch = self._decode(fields)
            if batch is not None:
                for event in batch.events:
                    if event.kind == Kind.RUN_START:
                        project = self.projects[run_id] = event.payload["project"]
        return self._subscribers(run_id, project), batch

    def _decode(self, fields: dict[bytes, bytes]) -> Batch | None:
        try:
            batch = decode_entry(fields)
        except ContractError:
            self.undecodable += 1  # the collector dead-letters it; live views skip it
            return None
        self.decoded += 1
        return batch

    def _dispatch(self, shard: int, entry_id: str, fields: dict[bytes, bytes]) -> None:
        run = fields.get(b"run")
        if run is None:
            return
        if shard == self.alert_shard:
            self._dispatch_alert(shard, entry_id, fields)
            return
        targets, batch = self._targets(_text(run), fields)
        if not targets:
            return
        batch = batch or self._decode(fields)
        if batch is None:
            return
        for event in batch.events:
            if event.kind == Kind.RUN_START:
                self.projects[batch.run_id] = event.payload["project"]
        for client in targets:
            client.offer(shard, entry_id, batch)

    def _alert_batch(self, fields: dict[bytes, bytes]) -> Batch | None:
        """An alerts-stream entry as a one-event batch of kind ``rule_alert``."""
        transition = decode_fields(fields)
        if transition is None:
            self.undecodable += 1
            return None
        if transition.project:
            self.projects.setdefault(transition.run_id, transition.project)
        event = Event(transition.run_id, COLLECTOR_WRITER, 0, transition.at, RULE_ALERT, transition.to_dict())
        return Batch(transition.run_id, COLLECTOR_WRITER, [event])

    def _dispatch_alert(self, shard: int, entry_id: str, fields: dict[bytes, bytes]) -> None:
        batch = self._alert_batch(fields)
        if batch is None:
            return
        for client in self._subscribers(batch.run_id, self.projects.get(batch.run_id)):
            client.offer(shard, entry_id, batch)

    # ------------------------------------------------------------ clients

    def _register(self, client: LiveClient) -> None:
        self.clients.add(client)
        sub = client.sub
        if sub.everything:
            self.everything.add(client)
        for run in sub.runs:
            self.by_run.setdefault(run, set()).add(client)
        if sub.project is not None:
            self.by_project.setdefault(sub.project, set()).add(client)

    def detach(self, client: LiveClient) -> None:
        self.clients.discard(client)
        self.everything.discard(client)
        for index in (self.by_run, self.by_project):
            for key in [k for k, members in index.items() if client in members]:
                index[key].discard(client)
                if not index[key]:
                    del index[key]

    async def attach(self, client: LiveClient, cursor: dict[int, str]) -> None:
        """Register a client; with a cursor, first replay what it missed, then go live."""
        await self.start()
        client.catching_up = bool(cursor)
        self._register(client)
        if not cursor:
            return
        until = dict(self.positions)  # taken in the same step as registering: no gap, no overlap
        try:
            for shard, start in sorted(cursor.items()):
                await self._replay(client, shard, start, until[self.streams[shard]])
        finally:
            for shard, entry_id, batch in client.held:
                client.add(shard, entry_id, batch)
            client.held.clear()
            client.catching_up = False
            client.wake.set()

    async def _replay(self, client: LiveClient, shard: int, start: str, until: str) -> None:
        stream = self.streams[shard]
        if _parse_id(start) >= _parse_id(until):
            return
        if await self._trimmed_past(stream, start):
            client.gap = True
        wanted = client.sub
        low = "(" + start
        while True:
            entries = await self.redis.xrange(stream, min=low, max=until, count=self.read_count)
            for entry_id, fields in entries:
                run = fields.get(b"run")
                if run is None:
                    continue
                run_id = _text(run)
                if not (wanted.everything or run_id in wanted.runs or wanted.project is not None):
                    continue
                batch = self._alert_batch(fields) if shard == self.alert_shard else self._decode(fields)
                if batch is None:
                    continue
                if wanted.project is not None and not wanted.runs:
                    project = self.projects.get(run_id) or await self._project_of(run_id, batch)
                    if project != wanted.project:
                        continue
                client.add(shard, _text(entry_id), batch)
            if len(entries) < self.read_count:
                return
            low = "(" + _text(entries[-1][0])

    async def _project_of(self, run_id: str, batch: Batch) -> str | None:
        for event in batch.events:
            if event.kind == Kind.RUN_START:
                return str(event.payload["project"])
        found = await asyncio.to_thread(self.store.runs.projects, [run_id])
        self.projects.update(found)
        return found.get(run_id)

    async def _trimmed_past(self, stream: str, start: str) -> bool:
        """Whether entries after ``start`` may have been trimmed away."""
        try:
            info = await self.redis.xinfo_stream(stream)
        except Exception:  # noqa: BLE001 - no such stream: nothing to replay, nothing lost
            return False
        added = info.get("entries-added")
        if added is not None and int(added) == int(info.get("length", 0)):
            return False  # nothing was ever deleted from this stream
        first = info.get("first-entry")
        return bool(first) and _parse_id(_text(first[0])) > _parse_id(start)

    def cursor_for(self, client: LiveClient) -> dict[int, str]:
        if client.catching_up:
            return dict(client.cursor)
        return {self.shard_of[s]: entry_id for s, entry_id in self.positions.items()}

    def stats(self) -> dict[str, Any]:
        return {
            "clients": len(self.clients),
            "entries": self.entries,
            "decoded": self.decoded,
            "pending": [c.pending for c in self.clients],
            "max_pending_seen": max((c.max_pending_seen for c in self.clients), default=0),
        }

    # ------------------------------------------------------------ the websocket

    async def endpoint(self, websocket: WebSocket) -> None:
        """``WS /api/v1/live``: authenticate, subscribe, then receive frames."""
        await websocket.accept()
        first: dict[str, Any] | None = None
        if auth_enabled(self.settings) and not handshake_token(websocket):
            try:
                first = await asyncio.wait_for(self._receive(websocket), AUTH_TIMEOUT)
            except (TimeoutError, WebSocketDisconnect, ValueError):
                first = None
        if await identify_websocket(websocket, first) is None:
            await websocket.close(4401, "a valid token is required")
            return
        client: LiveClient | None = None
        current: list[LiveClient] = []  # the sender always serves the latest subscription
        sender: asyncio.Task[None] | None = None
        try:
            message = first
            while True:
                if message is None:
                    message = await self._receive(websocket)
                if set(message) != {"token"}:  # a message with only a token just authenticates
                    new = LiveClient(Subscription.parse(message), self.max_pending)
                    cursor = parse_cursor(message.get("cursor"), len(self.streams))
                    if client is not None:
                        self.detach(client)
                        new.wake = client.wake
                    client = new
                    current[:] = [new]
                    if sender is None:
                        sender = asyncio.create_task(self._send_forever(websocket, lambda: current[0]))
                    await self.attach(client, cursor)
                message = None
        except (WebSocketDisconnect, RuntimeError):
            pass
        except ValueError as exc:
            with contextlib.suppress(Exception):
                await websocket.close(4400, str(exc)[:120])
        finally:
            if client is not None:
                self.detach(client)
            if sender is not None:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sender

    async def _receive(self, websocket: WebSocket) -> dict[str, Any]:
        text = await websocket.receive_text()
        if len(text) > 1 << 20:
            raise ValueError("message too large")
        try:
            message = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError("messages must be JSON objects") from None
        if not isinstance(message, dict):
            raise ValueError("messages must be JSON objects")
        return message

    async def _send_forever(self, websocket: WebSocket, current: Any) -> None:
        """Send a frame whenever data is pending, at most one per interval; keepalives when idle."""
        while websocket.application_state == WebSocketState.CONNECTED:
            client: LiveClient = current()
            try:
                await asyncio.wait_for(client.wake.wait(), KEEPALIVE)
            except TimeoutError:
                await websocket.send_text(json.dumps({"type": "keepalive", "cursor": self._cursor_json(client)}))
                continue
            client = current()
            client.wake.clear()
            if client.catching_up:  # attach() wakes it again once the replay is in
                continue
            started = time.monotonic()
            frame = client.take_frame(self.cursor_for(client))
            if frame is not None:
                await websocket.send_text(json.dumps(frame, separators=(",", ":")))
            rest = self.interval - (time.monotonic() - started)
            if rest > 0:
                await asyncio.sleep(rest)

    def _cursor_json(self, client: LiveClient) -> dict[str, str]:
        return {str(k): v for k, v in sorted(self.cursor_for(client).items())}
