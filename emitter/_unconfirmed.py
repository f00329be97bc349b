"""What the sender has handed to Redis but the collector has not yet confirmed committed.

An entry is confirmed once its writer's committed-seq watermark (``Keys.committed``,
published by the collector after each commit) reaches the entry's last seq. Until then
the sender keeps it, to send it again after a reconnect: Redis may have restarted
without it, and a duplicate is harmless (the collector's writes are idempotent) where a
loss is not. Bodies stay in memory up to a byte budget; past it the oldest move to the
spool, so a collector that is down for long costs disk, not memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import redis

from ._redis_connect import mget
from ._spool import Segment, Spool
from .events import Keys, shard_for


@dataclass(slots=True)
class SentEntry:
    """A stream entry sent but not yet confirmed committed by the collector."""

    run_id: str
    writer: str
    first_seq: int
    last_seq: int
    body: bytes | None  # None once spilled: then it lives in ``segment``
    segment: Segment | None = None

    def load(self) -> bytes:
        if self.body is not None:
            return self.body
        assert self.segment is not None
        return self.segment.read()[1]


WriterKey = tuple[str, str]  # (run id, writer): what a watermark belongs to


def committed_seqs(client: redis.Redis, keys: Keys, shards: int, writers: Iterable[WriterKey]) -> dict[WriterKey, int]:
    """Each (run, writer)'s committed-seq watermark, -1 where the collector has committed nothing of it."""
    pairs = list(writers)
    if not pairs:
        return {}
    marks = mget(client, [keys.committed(shard_for(run_id, shards), run_id, writer) for run_id, writer in pairs])
    return {pair: int(mark) if mark is not None else -1 for pair, mark in zip(pairs, marks, strict=True)}


class Unconfirmed:
    """Sent entries awaiting their watermark, oldest first; in-memory bodies bounded by ``max_bytes``.

    >>> pending = Unconfirmed(spool, max_bytes=64 << 20)
    >>> pending.add(SentEntry(run_id, writer, 0, 99, body))
    >>> pending.confirm(committed_seqs(client, keys, shards, pending.writers()))  # drops what is covered

    Not thread-safe: the sender thread owns it (and holds the sender's lock around spool writes).
    """

    def __init__(self, spool: Spool, max_bytes: int) -> None:
        self._spool = spool
        self._max_bytes = max_bytes
        self._entries: deque[SentEntry] = deque()
        self._bytes = 0  # of bodies held in memory

    def __repr__(self) -> str:
        return f"<Unconfirmed entries={len(self._entries)} in_memory_bytes={self._bytes}>"

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[SentEntry]:
        return iter(self._entries)

    def add(self, entry: SentEntry) -> None:
        self._entries.append(entry)
        if entry.body is not None:
            self._bytes += len(entry.body)

    def over_budget(self) -> bool:
        return self._bytes > self._max_bytes

    def move_oldest_to_spool(self) -> bool:
        """Spool the oldest body still in memory; False when there is none."""
        oldest = next((entry for entry in self._entries if entry.body is not None), None)
        if oldest is None or oldest.body is None:
            return False
        oldest.segment = self._spool.write(oldest.run_id, oldest.writer, oldest.first_seq, oldest.last_seq, oldest.body)
        self._bytes -= len(oldest.body)
        oldest.body = None
        return True

    def move_all_to_spool(self) -> None:
        """At close: every body still in memory goes to the spool, for the next start or ``runwatch sync``."""
        for entry in self._entries:
            if entry.segment is None and entry.body is not None:
                entry.segment = self._spool.write(
                    entry.run_id, entry.writer, entry.first_seq, entry.last_seq, entry.body
                )
                self._bytes -= len(entry.body)
                entry.body = None

    def writers(self) -> list[WriterKey]:
        """The (run, writer) of every entry awaiting its watermark."""
        return sorted({(entry.run_id, entry.writer) for entry in self._entries})

    def confirm(self, committed: Mapping[WriterKey, int]) -> None:
        """Drop (and delete the spooled copy of) every entry its (run, writer) watermark covers."""
        kept: deque[SentEntry] = deque()
        for entry in self._entries:
            if committed.get((entry.run_id, entry.writer), -1) >= entry.last_seq:
                if entry.body is not None:
                    self._bytes -= len(entry.body)
                if entry.segment is not None:
                    entry.segment.remove()
            else:
                kept.append(entry)
        self._entries = kept

    def clear(self) -> None:
        """Forget every entry without spooling it (a forked child: the parent still holds them)."""
        self._entries.clear()
        self._bytes = 0
