"""The commit backlog: which decoded entries the next commit takes, and in what order.

The consumer's reader adds what each XREADGROUP decoded; its committer takes one chunk per
store transaction. Quiet writers go first and commit apart from busy ones, so a NaN from a
quiet run waits for at most the commit in progress, never for another run's backlog; a
writer's entries stay whole and in order.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from emitter.events import VALUE_KINDS, Batch

from .store.base import DeadLetter

Entry = tuple[str, str, dict[bytes, bytes]]  # (stream, entry id, fields)


@dataclass(slots=True)
class Decoded:
    """Entries read and decoded, waiting for the commit."""

    now: float
    batches: list[tuple[Entry, Batch]] = field(default_factory=list)
    dead: list[tuple[Entry, DeadLetter]] = field(default_factory=list)


class Backlog:
    """Decoded entries waiting for a commit: per writer in arrival order, plus dead letters.

    ``take`` fills a chunk with the writers that have the least waiting first, and keeps a
    chunk of quiet writers apart from busy ones: a quiet run's NaN commits in a small
    transaction of its own instead of behind thousands of another run's points.

    >>> backlog = Backlog()
    >>> backlog.add(decoded)                       # what one read brought
    >>> batches, dead = backlog.take(5000)         # the next commit: at most 5,000 points
    """

    def __init__(self) -> None:
        self.writers: dict[str, deque[tuple[Entry, Batch, int]]] = {}
        self.waiting: dict[str, int] = {}  # writer -> points waiting
        self.dead: list[tuple[Entry, DeadLetter]] = []
        self.points = 0
        self.now = 0.0  # when the newest entries were read
        self.points_per_entry = 1.0

    def __bool__(self) -> bool:
        return bool(self.writers or self.dead)

    def __repr__(self) -> str:
        return f"<Backlog writers={len(self.writers)} points={self.points} dead={len(self.dead)}>"

    def add(self, decoded: Decoded) -> None:
        points = 0
        for entry, batch in decoded.batches:
            weight = points_of(batch)
            points += weight
            self.writers.setdefault(batch.writer, deque()).append((entry, batch, weight))
            self.waiting[batch.writer] = self.waiting.get(batch.writer, 0) + weight
        self.dead.extend(decoded.dead)
        self.points += points
        self.now = decoded.now
        if decoded.batches:  # a moving average: reads size themselves to about one commit
            self.points_per_entry = 0.7 * self.points_per_entry + 0.3 * points / len(decoded.batches)

    def take(self, limit: int) -> tuple[list[tuple[Entry, Batch]], list[tuple[Entry, DeadLetter]]]:
        """The next chunk: whole entries, each writer's in order, at most ``limit`` points (one at least)."""
        quiet = max(1, limit // 8)
        chunk: list[tuple[Entry, Batch]] = []
        size = 0
        for writer in sorted(self.waiting, key=self.waiting.__getitem__):
            if chunk and size <= quiet < self.waiting[writer]:
                break  # quiet writers commit on their own
            queue = self.writers[writer]
            while queue and (not chunk or size + queue[0][2] <= limit):
                entry, batch, weight = queue.popleft()
                chunk.append((entry, batch))
                size += weight
                self.waiting[writer] -= weight
            if queue:
                break  # the chunk is full
            del self.writers[writer], self.waiting[writer]
        self.points -= size
        dead, self.dead = self.dead, []
        return chunk, dead


def points_of(batch: Batch) -> int:
    """Rows a batch will write: one per metric value, one per other event."""
    return sum(len(e.payload["values"]) if e.kind in VALUE_KINDS else 1 for e in batch.events)
