"""Committed alert transitions, published to a stream for live views.

Rule-engine alerts are born in the collector, not in a training process, so they are not
in the event streams that websockets read. After each commit that produced transitions,
the collector XADDs one entry per transition to ``{prefix}:alerts`` (capped at about
``MAX_ENTRIES``); every API process reads it like one more shard, so a browser sees an
alert the moment it is committed and a reconnecting client replays the ones it missed.
Publishing is best effort: the alert history in the store is the record.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

from alerts import Transition

logger = logging.getLogger(__name__)

MAX_ENTRIES = 10_000


def entry_fields(transition: Transition) -> dict[bytes, bytes]:
    return {b"run": transition.run_id.encode(), b"t": json.dumps(transition.to_dict()).encode()}


def decode_fields(fields: dict[bytes, bytes]) -> Transition | None:
    """The transition of an alerts-stream entry (None if it is not one)."""
    try:
        return Transition.from_dict(json.loads(fields[b"t"]))
    except (KeyError, ValueError, TypeError):
        return None


class AlertPublisher:
    """Called on the store thread after a commit; XADDs on the service's event loop."""

    def __init__(self, redis: Any, stream: str, loop: asyncio.AbstractEventLoop) -> None:
        self.redis = redis
        self.stream = stream
        self.loop = loop
        self.published = 0
        self.failed = 0
        self._tasks: set[asyncio.Future[None]] = set()

    def __repr__(self) -> str:
        return f"<AlertPublisher stream={self.stream} published={self.published} failed={self.failed}>"

    def __call__(self, transitions: Sequence[Transition]) -> None:
        if transitions and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._start, list(transitions))

    def _start(self, transitions: list[Transition]) -> None:
        task = asyncio.ensure_future(self._publish(transitions))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, transitions: list[Transition]) -> None:
        try:
            pipe = self.redis.pipeline(transaction=False)
            for transition in transitions:
                pipe.xadd(self.stream, entry_fields(transition), maxlen=MAX_ENTRIES, approximate=True)
            await pipe.execute()
            self.published += len(transitions)
        except Exception as exc:  # noqa: BLE001 - live views miss it; the store has it
            self.failed += len(transitions)
            logger.warning("could not publish %d alerts to %s: %s", len(transitions), self.stream, exc)
