"""Deliver a spool left behind by jobs that ended while Redis was unreachable, and their staged artifacts."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ._http import ApiClient
from ._sender import connect
from ._spool import Segment, Spool
from ._unconfirmed import committed_seqs
from ._uploader import EventLink, SyncArtifactsReport, deliver_staged
from .events import DEFAULT_PREFIX, DEFAULT_SHARDS, Keys, entry_fields, shard_for
from .run import DEFAULT_REDIS_URL


@dataclass
class SyncReport:
    """What ``sync_spool`` did: entries sent, confirmed committed, and left on disk."""

    sent: int = 0
    confirmed: int = 0
    remaining: int = 0
    skipped_writers: list[str] = field(default_factory=list)

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
) -> SyncReport:
    """Send every spooled entry of writers no live process holds, then wait for the collector.

    A segment is deleted only once the collector's committed-seq watermark covers it, so
    running ``sync`` twice is safe: the collector ignores what it already stored.
    """
    say = progress or (lambda message: None)
    spool = Spool(Path(home or os.environ.get("RUNWATCH_HOME") or ".runwatch") / "spool")
    keys = Keys(prefix or os.environ.get("RUNWATCH_PREFIX") or DEFAULT_PREFIX)
    client = connect(redis_url or os.environ.get("RUNWATCH_REDIS_URL") or DEFAULT_REDIS_URL)
    report = SyncReport()
    try:
        client.ping()
        published = client.get(keys.shards)
        shards = int(published) if published else int(os.environ.get("RUNWATCH_SHARDS") or DEFAULT_SHARDS)
        pending: list[Segment] = []
        for writer in spool.writers():
            if not spool.try_lock(writer):
                report.skipped_writers.append(writer)
                say(f"skipping writer {writer}: a running process still owns it")
                continue
            segments = spool.segments(writer)
            committed = committed_seqs(client, keys, [writer])[writer]
            for segment in segments:
                if segment.last_seq <= committed:
                    segment.remove()
                    report.confirmed += 1
                    continue
                run_id, body = segment.read()
                stream = keys.stream(shard_for(run_id, shards))
                client.xadd(stream, entry_fields(run_id, body))
                report.sent += 1
                pending.append(segment)
            say(f"writer {writer}: sent {len(segments)} spooled entries")
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            still: list[Segment] = []
            marks = committed_seqs(client, keys, sorted({s.writer for s in pending}))
            for segment in pending:
                if segment.last_seq <= marks[segment.writer]:
                    segment.remove()
                    report.confirmed += 1
                else:
                    still.append(segment)
            if len(still) != len(pending):
                say(f"confirmed {report.confirmed} entries, waiting for {len(still)}")
            pending = still
            if pending:
                time.sleep(0.1)
        report.remaining = len(pending)
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
        redis_url or os.environ.get("RUNWATCH_REDIS_URL") or DEFAULT_REDIS_URL,
        keys,
        int(os.environ.get("RUNWATCH_SHARDS") or DEFAULT_SHARDS),
    )
    return deliver_staged(root, ApiClient.from_env(url, token), link, timeout=timeout, progress=progress)
