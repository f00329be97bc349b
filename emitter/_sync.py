"""Deliver a spool left behind by jobs that ended while Redis was unreachable, and their staged artifacts."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from ._http import ApiClient
from ._redis_url import resolve_redis_url
from ._sender import connect
from ._spool import Segment, Spool
from ._unconfirmed import committed_seqs
from ._uploader import EventLink, SyncArtifactsReport, deliver_staged
from .events import DEFAULT_PREFIX, DEFAULT_SHARDS, Keys, entry_fields, shard_for


@dataclass
class SyncReport:
    """What ``sync_spool`` did (or, passed to ``on_change``, has done so far).

    ``total`` entries were found, ``sent`` of them sent, ``confirmed`` committed by the
    collector (and deleted), ``remaining`` left on disk, of the runs in ``waiting_runs``.
    """

    sent: int = 0
    confirmed: int = 0
    remaining: int = 0
    skipped_writers: list[str] = field(default_factory=list)
    total: int = 0
    waiting_runs: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.remaining == 0 and not self.skipped_writers


def sync_spool(
    home: str | os.PathLike[str] | None = None,
    *,
    redis_url: str | None = None,
    prefix: str | None = None,
    timeout: float = 30.0,
    progress: Callable[[str], None] | None = None,
    on_change: Callable[[SyncReport], None] | None = None,
) -> SyncReport:
    """Send every spooled entry of writers no live process holds, then wait for the collector.

    A segment is deleted only once the collector's committed-seq watermark covers it, so
    running ``sync`` twice is safe: the collector ignores what it already stored. It waits
    as long as confirmations keep coming (a busy collector is slow, not gone) and gives up
    only after ``timeout`` seconds in which nothing more was confirmed. ``progress`` gets
    messages; ``on_change`` gets the report whenever its counts move (for a progress bar).
    """
    say = progress or (lambda message: None)
    changed = on_change or (lambda report: None)
    spool = Spool(Path(home or os.environ.get("RUNWATCH_HOME") or ".runwatch") / "spool")
    keys = Keys(prefix or os.environ.get("RUNWATCH_PREFIX") or DEFAULT_PREFIX)
    client = connect(resolve_redis_url(redis_url, home))
    report = SyncReport()
    try:
        client.ping()
        published = client.get(keys.shards)
        shards = int(published) if published else int(os.environ.get("RUNWATCH_SHARDS") or DEFAULT_SHARDS)
        found: list[tuple[str, list[Segment]]] = []
        for writer in spool.writers():
            if not spool.try_lock(writer):
                report.skipped_writers.append(writer)
                say(f"skipping writer {writer}: a running process still owns it")
                continue
            found.append((writer, spool.segments(writer)))
        report.total = sum(len(segments) for _, segments in found)
        changed(report)
        pending: list[tuple[Segment, str]] = []  # sent, not yet confirmed: (segment, run id)
        for writer, segments in found:
            if not segments:
                continue
            owner = segments[0].read()[0]  # a writer logs for one run
            committed = committed_seqs(client, keys, shards, [(owner, writer)])[(owner, writer)]
            for segment in segments:
                if segment.last_seq <= committed:
                    segment.remove()
                    report.confirmed += 1
                    continue
                run_id, body = segment.read()
                stream = keys.stream(shard_for(run_id, shards))
                client.xadd(stream, entry_fields(run_id, body))
                report.sent += 1
                pending.append((segment, run_id))
            say(f"writer {writer}: sent {len(segments)} spooled entries")
            report.remaining = len(pending)
            changed(report)
        pending = _await_confirmations(client, keys, shards, pending, report, timeout, changed)
        report.remaining = len(pending)
        report.waiting_runs = sorted({run_id for _, run_id in pending})
    finally:
        spool.unlock_all()
        client.close()
    return report


def sync_artifacts(
    home: str | os.PathLike[str] | None = None,
    *,
    url: str | None = None,
    token: str | None = None,
    redis_url: str | None = None,
    prefix: str | None = None,
    timeout: float = 30.0,
    progress: Callable[[str], None] | None = None,
) -> SyncArtifactsReport:
    """Upload the artifacts jobs left staged (the API was down, or they ended first) and send their events.

    ``url`` and ``token`` default to ``RUNWATCH_URL`` and ``RUNWATCH_TOKEN``. Safe to run
    twice: blobs the API has are not sent again, and the collector stores an event once.
    """
    root = Path(home or os.environ.get("RUNWATCH_HOME") or ".runwatch") / "spool" / "artifacts"
    keys = Keys(prefix or os.environ.get("RUNWATCH_PREFIX") or DEFAULT_PREFIX)
    link = EventLink(
        resolve_redis_url(redis_url, home),
        keys,
        int(os.environ.get("RUNWATCH_SHARDS") or DEFAULT_SHARDS),
    )
    return deliver_staged(root, ApiClient.from_env(url, token), link, timeout=timeout, progress=progress)


def _await_confirmations(
    client: redis.Redis,
    keys: Keys,
    shards: int,
    pending: list[tuple[Segment, str]],
    report: SyncReport,
    timeout: float,
    changed: Callable[[SyncReport], None],
) -> list[tuple[Segment, str]]:
    """Delete each segment once the watermark covers it; stop when none is left or none was for ``timeout``."""
    last_progress = time.monotonic()
    while pending:
        marks = committed_seqs(client, keys, shards, sorted({(run_id, segment.writer) for segment, run_id in pending}))
        still = []
        for segment, run_id in pending:
            if segment.last_seq <= marks[(run_id, segment.writer)]:
                segment.remove()
                report.confirmed += 1
            else:
                still.append((segment, run_id))
        if len(still) != len(pending):
            last_progress = time.monotonic()
            report.remaining = len(still)
            changed(report)
        pending = still
        if pending:
            if time.monotonic() - last_progress >= timeout:
                break
            time.sleep(0.1)
    return pending
