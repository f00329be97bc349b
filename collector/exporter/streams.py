"""Lag and pending per stream, read from Redis off the scrape path, and their metric families.

``read_stream_stats`` pipelines XLEN, XINFO GROUPS and XPENDING for every stream; the exporter
calls it about once a second and keeps the snapshot, so a scrape (which runs in the event
loop's /metrics handler) never waits on Redis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from emitter.events import GROUP, stream_id_seconds

#: (group, lag, pending, oldest pending age in seconds); lag is None where Redis cannot tell
GroupStats = tuple[str, float | None, int, float | None]


@dataclass(slots=True)
class StreamStats:
    """One stream's figures from XINFO GROUPS / XPENDING at ``taken_at``."""

    stream: str
    length: int
    groups: list[GroupStats]


async def read_stream_stats(
    redis: aioredis.Redis, streams: Sequence[str], clock: Callable[[], float]
) -> tuple[list[StreamStats], float]:
    """Length, and lag / pending / oldest pending age of each group, of every stream that exists; and when."""
    pipe = redis.pipeline(transaction=False)
    for stream in streams:
        pipe.xlen(stream)
        pipe.xinfo_groups(stream)
        pipe.xpending(stream, GROUP)
    replies = await pipe.execute(raise_on_error=False)
    now = clock()
    stats: list[StreamStats] = []
    for index, stream in enumerate(streams):
        length, groups, pending = replies[3 * index : 3 * index + 3]
        if isinstance(length, Exception) or isinstance(groups, Exception):
            continue  # stream not created yet
        oldest_age = None
        if not isinstance(pending, Exception) and pending and pending.get("pending"):
            oldest_age = max(0.0, now - _id_seconds(pending.get("min")))
        rows: list[GroupStats] = []
        for group in groups:
            name, lag = _text(group.get("name")), group.get("lag")
            age = oldest_age if name == GROUP else None
            rows.append((name, None if lag is None else float(lag), int(group.get("pending") or 0), age))
        stats.append(StreamStats(stream, int(length), rows))
    return stats, now


def stream_families(stats: Sequence[StreamStats], taken_at: float | None, errors: int) -> list[Metric]:
    """The stream gauges of one snapshot, with when it was taken and how many reads failed."""
    on = ("stream", "group")
    length = GaugeMetricFamily("runwatch_stream_length_entries", "Entries in the stream (XLEN).", labels=on[:1])
    lag = GaugeMetricFamily("runwatch_consumer_lag_entries", "Entries not yet delivered (XINFO lag).", labels=on)
    pending = GaugeMetricFamily("runwatch_consumer_pending_entries", "Read, not yet acknowledged.", labels=on)
    oldest = GaugeMetricFamily("runwatch_consumer_oldest_pending_age_seconds", "Oldest unacked entry.", labels=on)
    for stream in stats:
        length.add_metric((stream.stream,), stream.length)
        for group, group_lag, group_pending, age in stream.groups:
            if group_lag is not None:
                lag.add_metric((stream.stream, group), group_lag)
            pending.add_metric((stream.stream, group), group_pending)
            if group == GROUP:
                oldest.add_metric((stream.stream, group), age or 0.0)
    taken = GaugeMetricFamily(
        "runwatch_stream_stats_timestamp_seconds", "When lag/pending were read.", value=taken_at or 0
    )
    failed = CounterMetricFamily("runwatch_stream_stats_errors", "Failed lag/pending reads.", value=errors)
    return [length, lag, pending, oldest, taken, failed]


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _id_seconds(raw: Any) -> float:
    return stream_id_seconds(raw) if raw else 0.0
