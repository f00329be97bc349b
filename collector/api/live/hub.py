"""``LiveHub``: reads every event stream once per API process and fans entries out to clients.

Plain XREAD, no consumer group, so any number of API replicas can serve live views without
talking to the collector. Each decoded entry goes to the clients subscribed to its run, to its
project, or to everything; a client that reconnects with a cursor is first replayed what it
missed (XRANGE), with the entries arriving meanwhile held back, then goes live.

>>> hub = LiveHub(settings, redis=redis, store=store)
>>> app.add_api_websocket_route("/api/v1/live", hub.endpoint)
>>> await hub.close()                                   # on shutdown
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, cast

import redis.asyncio as aioredis
from redis.typing import KeyT, StreamIdT
from starlette.websockets import WebSocket

from emitter.events import Batch, ContractError, Event, Kind, decode_entry, parse_stream_id

from ...alert_stream import decode_fields
from ...redis_connect import is_cluster
from ...settings import Settings
from ...slots import xread_per_stream
from ...store.base import Store
from . import session
from .buffer import LiveClient
from .protocol import COLLECTOR_WRITER, RULE_ALERT
from .revocation import TokenWatch

logger = logging.getLogger(__name__)

_MAX_KNOWN_PROJECTS = 100_000


# replies as redis-py gives them without decode_responses: XRANGE, and XREAD (a list on RESP2, a dict on RESP3)
_Entries = list[tuple[bytes, dict[bytes, bytes]]]
_ReadReply = list[tuple[bytes, _Entries]] | dict[bytes, _Entries] | None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class LiveHub:
    """Reads the event streams once per process and fans entries out to websocket clients.

    >>> hub = LiveHub(settings, redis=redis, store=store)
    >>> await hub.attach(client, cursor={})     # the session does this for each subscription
    >>> hub.clients, hub.stats()
    """

    def __init__(
        self,
        settings: Settings,
        *,
        redis: aioredis.Redis,
        store: Store,
        max_pending: int = 50_000,
        block_ms: int = 1000,
        read_count: int = 500,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.redis = redis
        self._cluster = is_cluster(redis)
        self.store = store
        self.clock = clock
        self.token_watch = TokenWatch(self._token_valid, interval=settings.token_recheck_seconds)
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

    async def endpoint(self, websocket: WebSocket) -> None:
        """``WS /api/v1/live``: authenticate, subscribe, then receive frames (see ``session``)."""
        await session.serve(self, websocket)

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
        await self.token_watch.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    # ------------------------------------------------------------ tokens of open sockets

    def watch_token(self, token: str, on_revoked: Callable[[], None]) -> Callable[[], None]:
        """Call ``on_revoked`` once ``token`` stops verifying; returns the function that stops watching."""
        return self.token_watch.watch(token, on_revoked)

    def tokens_changed(self) -> None:
        """A token was revoked in this process: verify the open sockets' tokens now (any thread)."""
        self.token_watch.changed()

    def _token_valid(self, token: str) -> bool:
        return self.store.tokens.verify(token, self.clock()) is not None

    async def _read_forever(self) -> None:
        while True:
            positions: dict[KeyT, StreamIdT] = {stream: entry_id for stream, entry_id in self.positions.items()}
            try:
                if self._cluster:  # one slot per stream: no multi-stream XREAD (collector/slots.py)
                    reply = await xread_per_stream(
                        self.redis, dict(self.positions), count=self.read_count, block=self.block_ms
                    )
                    response = cast(_ReadReply, reply)
                else:
                    response = cast(
                        _ReadReply, await self.redis.xread(positions, count=self.read_count, block=self.block_ms)
                    )
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

    async def _learn_projects(self, items: Iterable[tuple[bytes, _Entries]]) -> None:
        unknown = {
            _text(fields.get(b"run", b""))
            for _, entries in items
            for _, fields in entries
            if fields.get(b"run") is not None and _text(fields[b"run"]) not in self.projects
        }
        if unknown:
            found = await asyncio.to_thread(self.store.runs.projects, sorted(unknown))
            if len(self.projects) > _MAX_KNOWN_PROJECTS:
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
            client.release_held()

    async def _replay(self, client: LiveClient, shard: int, start: str, until: str) -> None:
        stream = self.streams[shard]
        if parse_stream_id(start) >= parse_stream_id(until):
            return
        if await self._trimmed_past(stream, start):
            client.gap = True
        wanted = client.sub
        low = "(" + start
        while True:
            entries = cast(_Entries, await self.redis.xrange(stream, min=low, max=until, count=self.read_count))
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
        if not first:
            return False
        return parse_stream_id(first[0]) > parse_stream_id(start)

    def cursor_for(self, client: LiveClient) -> dict[int, str]:
        """Where ``client`` stands: its own cursor while it catches up, else the hub's read positions."""
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
