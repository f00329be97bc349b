"""``CommitSignal``: wakes a write waiting for its commit the moment the collector acknowledges one.

The collector PUBLISHes on ``Keys.commits`` in the same pipeline that sets the committed
watermarks (no extra round trip). A waiter still reads its own watermark key: the message
only says *look now*, so a lost or late message costs latency, never correctness. Until a
first message has arrived (an older collector that does not publish, a cluster without
pub/sub, the subscription down), waiters poll as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

logger = logging.getLogger(__name__)

FALLBACK_POLL = 0.01  # with the signal live, a safety net only: a message can be lost on a reconnect


class CommitSignal:
    """A generation counter bumped by every commit message on one Redis channel.

    >>> signal = CommitSignal(redis, keys.commits)
    >>> since = signal.generation; ...check the watermark...; await signal.changed(since, 0.01)
    """

    def __init__(self, redis: Any, channel: str) -> None:
        self._redis = redis
        self._channel = channel
        self._task: asyncio.Task[None] | None = None
        self._event = asyncio.Event()
        self.generation = 0
        self.live = False  # a message arrived on a working subscription: waiters may rely on it

    def __repr__(self) -> str:
        return f"<CommitSignal channel={self._channel} generation={self.generation} live={self.live}>"

    def start(self) -> None:
        """Subscribe in the background (idempotent; needs a running loop)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._listen(), name="runwatch-mlflow-commits")

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
                        self.live = True
                        self._bump()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis down or no pub/sub: waiters poll meanwhile
                if self.live:
                    logger.info("commit notifications unavailable (%s); polling the watermarks", exc)
                self.live = False
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
