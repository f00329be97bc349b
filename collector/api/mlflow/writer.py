"""``MlflowWriter``: MLflow requests become ordinary runwatch events on the shard streams.

The API process is one more writer: a writer id of its own (``mlflow-<random>``) and, per run,
seqs from 0 with no gap, so the collector's idempotency on ``(run_id, writer, seq)`` and its
committed watermark work as for any emitter. The writer never touches the store.

Two promises to the MLflow client:

- *a retried request is stored once*. The client retries 408/429/5xx with the same body; the
  digest of a request that appends (metrics, artifact files) is remembered in Redis
  (``Keys.request``) by the same atomic script that XADDs its entry, so a retry (to this
  replica or another) finds the first attempt's seqs instead of adding new ones. Identical
  appends are identical points for MLflow too (its metric rows are keyed by key, value, step
  and timestamp). A request that only sets state (params, tags, status) is written again
  when retried: setting the same value twice changes nothing, and remembering it would
  swallow a real ``A → B → A`` sequence of the same request.
- *it reads its own writes*: a write is answered once the watermark covers its last seq,
  waiting at most ``mlflow_commit_wait`` seconds (past that the entry is safe in the stream
  and the answer goes out anyway; ``late`` counts them).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis

from emitter.events import MAX_EVENTS_PER_ENTRY, encode_body, entry_fields, shard_for

from ...settings import Settings
from .commits import FALLBACK_POLL, CommitSignal
from .errors import MlflowError

if TYPE_CHECKING:
    from ...consumer import CommitReport

logger = logging.getLogger(__name__)

MAX_RUNS_REMEMBERED = 10_000  # runs whose seq counter is kept; a forgotten run gets a fresh writer id

# KEYS: request record, stream. ARGV: record value, ttl, then the entry's field/value pairs.
# Returns the earlier record when the request was seen, else nil after the XADD.
_WRITE_ONCE = """
local seen = redis.call('GET', KEYS[1])
if seen then return seen end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
"""


@dataclass(frozen=True, slots=True)
class Pending:
    """One event to write: kind, payload and its timestamp (Unix seconds)."""

    kind: str
    payload: dict[str, Any]
    ts: float


@dataclass(slots=True)
class _RunSeqs:
    writer: str
    next_seq: int
    lock: asyncio.Lock


class MlflowWriter:
    """Writes a request's events as one stream entry per run, once, and waits for the commit.

    >>> writer = MlflowWriter(settings, redis)
    >>> await writer.write(run_id, [Pending("params", {"params": {"lr": "0.1"}}, time.time())], digest)
    """

    def __init__(self, settings: Settings, redis: aioredis.Redis) -> None:
        self._settings = settings
        self._redis = redis
        self._base = f"mlflow-{uuid.uuid4().hex[:16]}"
        self._generation = 0
        self._runs: OrderedDict[str, _RunSeqs] = OrderedDict()
        self._script = redis.register_script(_WRITE_ONCE)
        self._known: OrderedDict[str, None] = OrderedDict()  # runs known to exist
        self.commits = CommitSignal(redis, settings.keys.commits, self._base)
        self.written = 0
        self.retries = 0
        self.late = 0

    def __repr__(self) -> str:
        return f"<MlflowWriter writer={self._base} written={self.written} retries={self.retries} late={self.late}>"

    def knows(self, run_id: str) -> bool:
        """Whether the run is known to exist (runwatch never deletes a run, so this never goes stale)."""
        return run_id in self._known

    def remember(self, run_id: str) -> None:
        self._known[run_id] = None
        if len(self._known) > MAX_RUNS_REMEMBERED:
            self._known.popitem(last=False)

    def _seqs(self, run_id: str) -> _RunSeqs:
        found = self._runs.get(run_id)
        if found is not None:
            self._runs.move_to_end(run_id)
            return found
        if len(self._runs) >= MAX_RUNS_REMEMBERED:
            _, oldest = next(iter(self._runs.items()))
            if not oldest.lock.locked():
                self._runs.popitem(last=False)
        writer = self._base if self._generation == 0 else f"{self._base}.{self._generation}"
        self._generation += 1
        made = _RunSeqs(writer, 0, asyncio.Lock())
        self._runs[run_id] = made
        return made

    async def write(self, run_id: str, events: Sequence[Pending], digest: str | None) -> None:
        """Append ``events`` for ``run_id`` (once per ``digest``, if one) and wait for the collector's commit."""
        if not events:
            return
        if len(events) > MAX_EVENTS_PER_ENTRY:
            raise MlflowError("INVALID_PARAMETER_VALUE", f"{len(events)} events in one request")
        self.commits.start()  # before the XADD: its commit cannot be reported before anyone listens
        shard = shard_for(run_id, self._settings.shards)
        keys = self._settings.keys
        seqs = self._seqs(run_id)
        async with seqs.lock:
            first = seqs.next_seq
            last = first + len(events) - 1
            body = encode_body(seqs.writer, [[first + i, e.ts, e.kind, e.payload] for i, e in enumerate(events)])
            fields = entry_fields(run_id, body)
            args: list[Any] = [f"{seqs.writer} {first} {last}", self._settings.mlflow_retry_window]
            for name, value in fields.items():
                args.extend((name, value))
            try:
                if digest is None:
                    await self._redis.xadd(keys.stream(shard), fields)
                    seen = None
                else:
                    seen = await self._script(keys=[keys.request(shard, digest), keys.stream(shard)], args=args)
            except Exception as exc:  # noqa: BLE001 - Redis down: the client retries a 503
                logger.warning("mlflow write for run %s could not reach Redis: %s", run_id, exc)
                raise MlflowError("TEMPORARILY_UNAVAILABLE", "the event stream is unavailable; retry") from None
            if seen is None:
                seqs.next_seq = last + 1
                writer, target = seqs.writer, last
                self.written += 1
            else:
                text = seen.decode() if isinstance(seen, bytes) else str(seen)
                writer, _, span = text.partition(" ")
                target = int(span.split(" ")[-1])
                self.retries += 1
        if not await self.wait_committed(run_id, writer, target) and self._runs.get(run_id) is seqs:
            # a watermark that does not come may be stuck behind an entry the collector refused:
            # later writes of this run start a new writer rather than all wait behind the same gap
            del self._runs[run_id]

    async def wait_committed(self, run_id: str, writer: str, seq: int) -> bool:
        """Wait until the watermark of (run, writer) reaches ``seq``, at most ``mlflow_commit_wait`` seconds.

        Woken by the collector in process or by its commit message (``CommitSignal``); without
        either yet, polling every millisecond while a commit is usually due, then every 10.
        """
        key = self._settings.keys.committed(shard_for(run_id, self._settings.shards), run_id, writer)
        self.commits.start()
        started = time.monotonic()
        deadline = started + self._settings.mlflow_commit_wait
        # in `runwatch serve` this writer's commits are heard in process: Redis is read only as a
        # safety net (a GET is a round trip the event loop pays for), else at every wake-up
        heard_here = self.commits.in_process and writer.startswith(self._base)
        read_at = started if heard_here else started - FALLBACK_POLL
        while True:
            since = self.commits.generation  # before any check: a commit after it wakes us at once
            if self.commits.committed(run_id, writer) >= seq:
                return True
            if not heard_here or time.monotonic() - read_at >= FALLBACK_POLL:
                read_at = time.monotonic()
                mark = await self._redis.get(key)
                if mark is not None and int(mark) >= seq:
                    return True
            now = time.monotonic()
            if now >= deadline:
                self.late += 1
                logger.warning("mlflow write for run %s not committed within the wait; answered anyway", run_id)
                return False
            if self.commits.live:
                await self.commits.changed(since, min(FALLBACK_POLL, deadline - now))
            else:
                await asyncio.sleep(0.001 if now - started < 0.1 else 0.01)

    def on_commit(self, report: CommitReport) -> None:
        """A consumer listener: in ``runwatch serve`` the commit wakes the waiting write directly."""
        self.commits.on_commit(report)

    async def close(self) -> None:
        """Stop listening for commit messages (whoever runs the server calls it on shutdown)."""
        await self.commits.close()


def request_digest(route: str, run_id: str, body: bytes) -> str:
    """What identifies a request across the client's retries: its route, run and exact body."""
    digest = hashlib.sha256()
    for part in (route.encode(), b"\0", run_id.encode(), b"\0", body):
        digest.update(part)
    return digest.hexdigest()[:40]
