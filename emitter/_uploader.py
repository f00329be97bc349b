"""The uploader: hashes and uploads staged artifacts, then sends their ``artifact`` events.

It runs on a thread of its own (never the training thread, never the sender's loop) and
is a writer of its own: the writer id and seq of each artifact's event are fixed in the
pending manifest when the artifact is logged, so a retry after a crash sends the same
event again and the collector stores it once. For each artifact, in order:

1. hash each snapshot not hashed yet (the digests go into the manifest);
2. ``HEAD /blobs/<sha>``, and ``PUT`` only the bytes the API does not have;
3. the manifest becomes ``uploaded`` and the snapshots are deleted;
4. XADD the event (through Redis, like every event), and once the writer's committed-seq
   watermark covers it, delete the manifest.

The API unreachable (or Redis) → the artifact stays staged and is retried with capped,
jittered backoff; a job that ends first leaves it for the next emitter start on the
machine or ``runwatch sync`` (``deliver_staged``). A refusal that cannot change (400,
413) moves the manifest to ``failed/`` with the reason and fails the handle.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import redis

from ._http import ApiClient, ApiError, ApiUnavailable
from ._sender import connect
from ._staging import STAGED, UPLOADED, Locks, Pending, WriterStaging, staged_writers
from ._unconfirmed import committed_seqs
from .events import Keys, encode_entry, shard_for

logger = logging.getLogger(__name__)

_CONFIRM_POLL = 0.2
_MAX_BACKOFF = 30.0
_REDIS_ERRORS = (redis.RedisError, redis.exceptions.RedisClusterException, OSError)
PERMANENT = (400, 404, 413, 422)  # the same request can never succeed


class Outcome(Protocol):
    """What hears how a logged artifact ended (``ArtifactHandle``)."""

    def stored(self, version: int | None) -> None: ...

    def failed(self, reason: str) -> None: ...


class EventLink:
    """XADDs artifact events and reads writers' committed-seq watermarks, on a connection of its own."""

    def __init__(self, redis_url: str, keys: Keys, shards: int) -> None:
        self._url = redis_url
        self._keys = keys
        self._shards = shards
        self._client: redis.Redis | None = None

    def _connected(self) -> redis.Redis:
        if self._client is None:
            client = connect(self._url)
            published = client.get(self._keys.shards)
            if published is not None:
                self._shards = max(1, int(published))
            self._client = client
        return self._client

    def send(self, pending: Pending) -> None:
        try:
            stream = self._keys.stream(shard_for(pending.run_id, self._shards))
            self._connected().xadd(stream, encode_entry(pending.run_id, pending.writer, [pending.event()]))
        except _REDIS_ERRORS:
            self.close()
            raise

    def committed(self, writers: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The watermark of each (run, writer)."""
        try:
            client = self._connected()
            return committed_seqs(client, self._keys, self._shards, writers)
        except _REDIS_ERRORS:
            self.close()
            raise

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:  # noqa: BLE001 - the connection is already broken
                pass
            self._client = None


def _lower_priority() -> None:
    """Nice this thread (Linux schedules threads apart): hashing a checkpoint yields the CPU to training."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass  # not Linux, or not allowed: the upload just competes as an equal


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def upload(pending: Pending, staging: WriterStaging, api: ApiClient) -> int:
    """Steps 1-3 for one artifact; the number of files whose bytes were sent (0: the API had them all)."""
    sent = 0
    if pending.state == STAGED:
        if any(f.sha256 is None for f in pending.files):
            for file in pending.files:
                if file.sha256 is None:
                    file.sha256 = sha256_of(staging.staged_file(pending, file))
            staging.save(pending)
        for file in pending.files:
            assert file.sha256 is not None
            if api.has_blob(file.sha256):
                continue
            api.upload(
                pending.run_id,
                f"{pending.name}/{file.path}",
                staging.staged_file(pending, file),
                file.sha256,
                file.size,
            )
            sent += 1
        pending.state = UPLOADED
        staging.save(pending)
        staging.drop_snapshots(pending)
    return sent


@dataclass
class Tracked:
    pending: Pending
    staging: WriterStaging
    outcome: Outcome | None = None
    attempts: int = 0
    not_before: float = 0.0


@dataclass
class SyncArtifactsReport:
    """What ``deliver_staged`` did: artifacts whose bytes went up, confirmed, left, failed for good."""

    uploaded: int = 0
    confirmed: int = 0
    remaining: int = 0
    failed: list[str] = field(default_factory=list)
    skipped_writers: list[str] = field(default_factory=list)
    error: str | None = None  # why delivery stopped early (the API or Redis unreachable)

    @property
    def complete(self) -> bool:
        return self.remaining == 0 and not self.skipped_writers


class Uploader:
    """The background thread of one emitter: its own artifacts, and those earlier jobs on the machine left."""

    def __init__(
        self,
        *,
        root: Path,
        api: ApiClient,
        link: EventLink,
        locks: Locks,
        find_version: Callable[[Pending], tuple[int | None, str | None]] | None = None,
        adopt: bool = True,
        own_writer: str | None = None,
    ) -> None:
        self._root = root
        self._api = api
        self._link = link
        self._locks = locks
        self._find_version = find_version
        self._adopt = adopt
        self._own_writer = own_writer  # its artifacts arrive through submit(), never adopted
        self._queue: deque[Tracked] = deque()
        self._awaiting: list[Tracked] = []
        self._wake = threading.Event()
        self._draining = False
        self._thread: threading.Thread | None = None
        self.uploaded = 0
        self.confirmed = 0
        self.errors = 0

    def __repr__(self) -> str:
        return (
            f"<Uploader queued={len(self._queue)} awaiting={len(self._awaiting)} uploaded={self.uploaded} "
            f"confirmed={self.confirmed} errors={self.errors}>"
        )

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="runwatch-uploader", daemon=True)
            self._thread.start()

    def submit(self, pending: Pending, staging: WriterStaging, outcome: Outcome | None) -> None:
        """From the training thread: a deque append and a wake-up, nothing else."""
        self._queue.append(Tracked(pending, staging, outcome))
        self.start()
        self._wake.set()

    def close(self, timeout: float) -> bool:
        """Finish what can be finished within ``timeout`` (stopping at the first unreachable API); True if all was."""
        self._draining = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("runwatch: artifact uploads still running after %.0fs; left staged for later", timeout)
                return False
        self._link.close()
        self._locks.unlock_all()
        return not self._queue and not self._awaiting

    # ------------------------------------------------------------------ the thread

    def _loop(self) -> None:
        _lower_priority()
        if self._adopt:
            self._adopt_leftovers()
        while True:
            item = self._next_ready()
            if item is not None:
                if not self._process(item) and self._draining:
                    return  # unreachable while draining: leave the rest staged
                continue
            if self._awaiting and not self._poll_confirmations() and self._draining:
                return  # Redis unreachable while draining: the manifests stay for the next start or sync
            if self._draining and not self._queue and not self._awaiting:
                return
            self._wake.wait(self._idle_wait())
            self._wake.clear()

    def _next_ready(self) -> Tracked | None:
        now = time.monotonic()
        for _ in range(len(self._queue)):
            item = self._queue[0]
            if item.not_before <= now or self._draining:
                return self._queue.popleft()
            self._queue.rotate(-1)
        return None

    def _idle_wait(self) -> float:
        waits = [_CONFIRM_POLL] if self._awaiting else []
        if self._queue:
            waits.append(max(0.0, min(item.not_before for item in self._queue) - time.monotonic()))
        return min(waits) if waits else 1.0

    def _process(self, item: Tracked) -> bool:
        """Upload and send one artifact; False when the API or Redis could not be reached."""
        try:
            if upload(item.pending, item.staging, self._api):
                self.uploaded += 1
            self._link.send(item.pending)
        except ApiError as exc:
            if isinstance(exc, ApiUnavailable) or exc.status not in PERMANENT:
                return self._retry_later(item, exc)
            reason = f"{exc.status}: {exc.detail}"
            logger.error("runwatch: artifact %r refused by the API (%s)", item.pending.name, reason)
            item.staging.fail(item.pending, reason)
            if item.outcome is not None:
                item.outcome.failed(reason)
            return True
        except _REDIS_ERRORS as exc:
            return self._retry_later(item, exc)
        except Exception as exc:  # noqa: BLE001 - the thread outlives any failure; the artifact stays staged
            logger.error("runwatch: artifact %r: unexpected error %r", item.pending.name, exc, exc_info=exc)
            return self._retry_later(item, exc)
        self._awaiting.append(item)
        return True

    def _retry_later(self, item: Tracked, exc: BaseException) -> bool:
        self.errors += 1
        item.attempts += 1
        backoff = min(_MAX_BACKOFF, 0.5 * 2 ** min(item.attempts, 8))
        item.not_before = time.monotonic() + backoff * random.uniform(0.5, 1.0)
        if item.attempts == 1:
            logger.warning("runwatch: artifact %r not delivered yet (%s); retrying", item.pending.name, exc)
        self._queue.append(item)
        return False

    def _poll_confirmations(self) -> bool:
        try:
            marks = self._link.committed(sorted({(i.pending.run_id, i.pending.writer) for i in self._awaiting}))
        except _REDIS_ERRORS:
            return False
        still = []
        for item in self._awaiting:
            if marks[(item.pending.run_id, item.pending.writer)] >= item.pending.seq:
                item.staging.done(item.pending)
                self.confirmed += 1
                self._settle(item)
            else:
                still.append(item)
        self._awaiting = still
        return True

    def _settle(self, item: Tracked) -> None:
        if item.outcome is None:
            return
        version, reason = (None, None)
        if self._find_version is not None:
            try:
                version, reason = self._find_version(item.pending)
            except ApiError as exc:
                logger.info("runwatch: could not look up the version of %r: %s", item.pending.name, exc)
        if reason is not None:
            item.outcome.failed(reason)
        else:
            item.outcome.stored(version)

    def _adopt_leftovers(self) -> None:
        """Artifacts of writers no live process holds: jobs that ended before their uploads."""
        adopted = 0
        for writer in staged_writers(self._root):
            if writer == self._own_writer or not self._locks.try_lock(writer):
                continue
            staging = WriterStaging(self._root, writer)
            for pending in staging.pending():
                self._queue.append(Tracked(pending, staging))
                adopted += 1
        if adopted:
            logger.info("runwatch: delivering %d artifacts left staged by earlier jobs", adopted)


def deliver_staged(
    root: Path,
    api: ApiClient,
    link: EventLink,
    *,
    timeout: float = 30.0,
    progress: Callable[[str], None] | None = None,
) -> SyncArtifactsReport:
    """``runwatch sync``: upload and announce every artifact no live process owns, then wait for the collector.

    A manifest is deleted only once the collector's watermark covers its event, so running
    it twice is safe: known blobs are not sent again, and a repeated event is stored once.
    """
    say = progress or (lambda message: None)
    locks = Locks(root)
    report = SyncArtifactsReport()
    sent: list[tuple[WriterStaging, Pending]] = []
    owned: list[WriterStaging] = []
    try:
        for writer in staged_writers(root):
            if not locks.try_lock(writer):
                report.skipped_writers.append(writer)
                say(f"skipping artifacts of writer {writer}: a running process still owns them")
                continue
            owned.append(WriterStaging(root, writer))
        try:
            for staging in owned:
                for pending in staging.pending():
                    if _deliver_one(pending, staging, api, link, report):
                        sent.append((staging, pending))
                        say(f"artifact {pending.name!r} of run {pending.run_id}: stored, event sent")
        except (ApiUnavailable, *_REDIS_ERRORS) as exc:
            report.error = str(exc)
            say(f"stopped: {exc}")
        _await_confirmations(sent, link, timeout, report)
        report.remaining = sum(len(staging.pending()) for staging in owned)
    finally:
        locks.unlock_all()
        link.close()
    return report


def _deliver_one(
    pending: Pending, staging: WriterStaging, api: ApiClient, link: EventLink, report: SyncArtifactsReport
) -> bool:
    """Upload and send one artifact; False when the API refused it for good (it moves to ``failed/``)."""
    try:
        if upload(pending, staging, api):
            report.uploaded += 1
        link.send(pending)
    except ApiError as exc:
        if isinstance(exc, ApiUnavailable) or exc.status not in PERMANENT:
            raise
        reason = f"{exc.status}: {exc.detail}"
        staging.fail(pending, reason)
        report.failed.append(f"{pending.name}: {reason}")
        return False
    return True


def _await_confirmations(
    sent: list[tuple[WriterStaging, Pending]], link: EventLink, timeout: float, report: SyncArtifactsReport
) -> None:
    deadline = time.monotonic() + timeout
    while sent:
        try:
            marks = link.committed(sorted({(p.run_id, p.writer) for _, p in sent}))
        except _REDIS_ERRORS as exc:
            report.error = str(exc)
            return
        still = []
        for staging, pending in sent:
            if marks[(pending.run_id, pending.writer)] >= pending.seq:
                staging.done(pending)
                report.confirmed += 1
            else:
                still.append((staging, pending))
        sent[:] = still
        if not sent or time.monotonic() >= deadline:
            return
        time.sleep(_CONFIRM_POLL)
