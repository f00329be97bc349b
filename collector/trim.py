"""Where a stream may be trimmed: never at or above an entry some consumer group still needs.

On Redis 7 an XTRIM deletes the payload of pending entries too, so the floor is the oldest
entry any group has pending or not yet delivered, and no newer than the retention that live
readers catching up rely on. The consumer reads XINFO GROUPS and XPENDING; this decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from emitter.events import parse_stream_id


def trim_floor(
    groups: Sequence[Mapping[str, Any]],
    pending: Mapping[Any, Mapping[str, Any]],
    now_ms: int,
    retention_ms: int,
) -> str | None:
    """The ``XTRIM MINID`` id for a stream, or None to leave it alone.

    ``groups`` is the XINFO GROUPS reply (``name``, ``last-delivered-id``, ``pending`` per group);
    ``pending`` the XPENDING summary (its ``min``) of each group, by name, that has pending entries.
    Entries below the returned id are acknowledged by every group and older than ``retention_ms``.

    >>> trim_floor([{"name": b"collectors", "last-delivered-id": b"9000-0", "pending": 0}], {}, 10_000, 500)
    '9000-0'
    """
    if not groups:
        return None
    floor = min(_needed(group, pending) for group in groups)
    threshold = min(floor, (now_ms - retention_ms, 0))
    if threshold <= (0, 0):
        return None
    return f"{threshold[0]}-{threshold[1]}"


def _needed(group: Mapping[str, Any], pending: Mapping[Any, Mapping[str, Any]]) -> tuple[int, int]:
    """The oldest entry one group still needs: its oldest pending one, else the next undelivered."""
    needed = parse_stream_id(group["last-delivered-id"])
    if group["pending"]:
        needed = min(needed, parse_stream_id(pending[group["name"]]["min"]))
    return needed


async def trim_stream(redis: aioredis.Redis, stream: str, now_ms: int, retention_ms: int) -> int:
    """XTRIM MINID ``stream`` to its ``trim_floor``: the entries removed (0 for a stream with no group)."""
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError:
        return 0
    pending = {group["name"]: await redis.xpending(stream, group["name"]) for group in groups if group["pending"]}
    minid = trim_floor(groups, pending, now_ms, retention_ms)
    if minid is None:
        return 0
    return int(await redis.xtrim(stream, minid=minid, approximate=False))
