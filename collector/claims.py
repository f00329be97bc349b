"""Taking entries over from other consumers of the group: XAUTOCLAIM, one stream at a time.

Two callers: the consumer's periodic reclaim (entries idle past ``claim_idle_ms`` in a consumer
that died) and a shard switch (every entry still pending in a stream this collector just
gained, whoever holds it: its lease says the previous owner is gone). Claimed entries are
committed through the consumer's own commit path before anything newer is read.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from emitter.events import GROUP

from .backlog import Entry

logger = logging.getLogger(__name__)


class Claimer:
    """XAUTOCLAIM into consumer ``name``; each stream's scan resumes where the last one stopped.

    >>> claimer = Claimer(redis, "collector-a", commit=consumer_commit)
    >>> await claimer.claim(streams, min_idle_ms=30_000)      # a slice of each stream
    >>> await claimer.claim(gained, 0, whole=True)            # everything pending there
    """

    def __init__(
        self, redis: aioredis.Redis, name: str, *, commit: Callable[[list[Entry]], Awaitable[None]], count: int = 200
    ) -> None:
        self.redis = redis
        self.name = name
        self.commit = commit
        self.count = count
        self.cursors: dict[str, str] = {}
        self.claimed = 0

    def __repr__(self) -> str:
        return f"<Claimer name={self.name} claimed={self.claimed}>"

    def restart(self, streams: Sequence[str]) -> None:
        """Scan these streams from their start next time."""
        for stream in streams:
            self.cursors[stream] = "0-0"

    async def claim(self, streams: Sequence[str], min_idle_ms: int, *, whole: bool = False) -> int:
        """Claim and commit entries idle past ``min_idle_ms``: ``count`` per stream, or (``whole``) all of them."""
        total = 0
        for stream in streams:
            total += await self._claim_some(stream, min_idle_ms)
            while whole and self.cursors.get(stream, "0-0") != "0-0":
                total += await self._claim_some(stream, min_idle_ms)
        return total

    async def _claim_some(self, stream: str, min_idle_ms: int) -> int:
        try:
            cursor, claimed, *_ = await self.redis.xautoclaim(
                stream, GROUP, self.name, min_idle_ms, self.cursors.get(stream, "0-0"), count=self.count
            )
        except ResponseError as exc:
            if "NOGROUP" in str(exc) or "no such key" in str(exc):
                self.cursors[stream] = "0-0"
                return 0
            raise
        self.cursors[stream] = cursor.decode() if isinstance(cursor, bytes) else cursor
        entries = [(stream, eid.decode() if isinstance(eid, bytes) else eid, fields or {}) for eid, fields in claimed]
        if entries:
            logger.info("claimed %d idle entries of %s", len(entries), stream)
            self.claimed += len(entries)
            await self.commit(entries)
        return len(entries)
