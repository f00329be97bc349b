"""``CommitSignal``: wakes a write waiting for its commit the moment the collector has made it.

Two sources, the faster wins:

- *in process* (``runwatch serve``: API and collector share the process): the consumer's commit
  listener hands over the watermarks of this API's own writers right after the store
  committed them (``on_commit``), before they are even set in Redis;
- *any collector*: it PUBLISHes on ``Keys.commits`` in the same pipeline that sets the
  committed watermarks (no extra round trip); a waiter then reads its own watermark key, since
  the message only says *look now*: a lost or late message costs latency, never correctness.

Until a first message has arrived (an older collector that does not publish, a cluster without
pub/sub, the subscription down), waiters poll as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...consumer import CommitReport

logger = logging.getLogger(__name__)

FALLBACK_POLL = 0.01  # with the signal live, a safety net only: a message can be lost on a reconnect
MAX_MARKS = 10_000  # (run, writer) watermarks heard in process; older ones are read from Redis again


class CommitSignal:
    """A generation counter bumped by every commit message on one Redis channel.

    >>> signal = CommitSignal(redis, keys.commits)
    >>> since = signal.generation; ...check the watermark...; await signal.changed(since, 0.01)
    """

    def __init__(self, redis: Any, channel: str, writers: str) -> None:
        self._redis = redis
        self._channel = channel
        self._writers = writers  # the id prefix of the writers whose in-process commits are kept
        self._marks: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._event = asyncio.Event()
        self.generation = 0
        self._subscribed = False  # a message arrived on a working subscription
        self._in_process = False  # the consumer of this process reported a commit

    @property
    def live(self) -> bool:
        """Whether commits are being heard, so waiters may sleep until one instead of polling."""
        return self._subscribed or self._in_process

    @property
    def in_process(self) -> bool:
        """Whether this process's consumer reports commits (``runwatch serve``)."""
        return self._in_process

    def __repr__(self) -> str:
        return f"<CommitSignal channel={self._channel} generation={self.generation} live={self.live}>"

    def start(self) -> None:
        """Subscribe in the background (idempotent; needs a running loop)."""
        if self._task is None or self._task.done():
            self._loop = asyncio.get_running_loop()
            self._task = self._loop.create_task(self._listen(), name="runwatch-mlflow-commits")

    def committed(self, run_id: str, writer: str) -> int:
        """The watermark of (run, writer) as heard in process (-1: nothing heard; read Redis)."""
        return self._marks.get((run_id, writer), -1)

    def on_commit(self, report: CommitReport) -> None:
        """A consumer listener (on the store thread): this API's writers' new watermarks, to the loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        mine = {key: seq for key, seq in report.result.watermarks.items() if key[1].startswith(self._writers)}
        if mine:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._heard, mine)

    def _heard(self, marks: dict[tuple[str, str], int]) -> None:
        for key, seq in marks.items():
            if seq > self._marks.get(key, -1):
                self._marks[key] = seq
            self._marks.move_to_end(key)
        while len(self._marks) > MAX_MARKS:
            self._marks.popitem(last=False)
        self._in_process = True
        self._bump()

    async def changed(self, since: int, timeout: float) -> None:
        """Return once ``generation`` moved past ``since``, or after ``timeout`` seconds."""
        if self.generation != since:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)

    def _bump(self) -> None:
        self.generation += 1
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            pubsub = None
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(self._channel)
                backoff = 0.1
                while True:
                    message = await pubsub.get_message(timeout=1.0)  # None when quiet
                    if message is not None and message.get("type") == "message":
                        self._subscribed = True
                        self._bump()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis down or no pub/sub: waiters poll meanwhile
                if self._subscribed:
                    logger.info("commit notifications unavailable (%s); polling the watermarks", exc)
                self._subscribed = False
                self._bump()  # waiters re-check now and fall back to polling
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
