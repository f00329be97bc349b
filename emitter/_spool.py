"""The append-only disk spool: stream entries that could not be confirmed yet.

A segment file holds one stream entry (one batch of one writer), written atomically
(temporary file + rename; no fsync: a killed process keeps the page cache, and an
fsync per spill would stall the training thread on slow disks), named ``<writer>.<first-seq>-<last-seq>.seg`` so that a
writer's segments sort in seq order. A live emitter holds an exclusive lock on
``<writer>.lock`` so that ``runwatch sync`` never replays a running job's spool.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import msgpack

_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Segment:
    """One spooled stream entry on disk."""

    path: Path
    writer: str
    first_seq: int
    last_seq: int

    def read(self) -> tuple[str, bytes]:
        """Return ``(run_id, body)`` of the spooled entry."""
        fmt, run_id, _writer, _first, _last, body = msgpack.unpackb(self.path.read_bytes(), raw=False)
        if fmt != _FORMAT:
            raise ValueError(f"{self.path}: unknown spool format {fmt}")
        return run_id, body

    def remove(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


class Spool:
    """A directory of segment files, shared by every emitter on the machine."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._locks: dict[str, IO[bytes]] = {}

    def write(self, run_id: str, writer: str, first_seq: int, last_seq: int, body: bytes) -> Segment:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{writer}.{first_seq:012d}-{last_seq:012d}.seg"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(msgpack.packb([_FORMAT, run_id, writer, first_seq, last_seq, body], use_bin_type=True))
        os.replace(tmp, path)
        return Segment(path, writer, first_seq, last_seq)

    def segments(self, writer: str | None = None) -> list[Segment]:
        """Segments on disk (of one writer, or all), oldest first per writer."""
        if not self.directory.is_dir():
            return []
        found = []
        pattern = f"{writer}.*.seg" if writer else "*.seg"
        for path in self.directory.glob(pattern):
            try:
                name, span = path.stem.rsplit(".", 1)
                first, last = (int(part) for part in span.split("-"))
            except ValueError:
                continue
            found.append(Segment(path, name, first, last))
        found.sort(key=lambda s: (s.writer, s.first_seq))
        return found

    def writers(self) -> list[str]:
        return sorted({segment.writer for segment in self.segments()})

    def try_lock(self, writer: str) -> bool:
        """Take the writer's lock without waiting; False when a live process holds it."""
        if writer in self._locks:
            return True
        self.directory.mkdir(parents=True, exist_ok=True)
        fh = open(self.directory / f"{writer}.lock", "ab")  # noqa: SIM115 - held until unlock()
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        self._locks[writer] = fh
        return True

    def unlock(self, writer: str) -> None:
        fh = self._locks.pop(writer, None)
        if fh is None:
            return
        if not self.segments(writer):
            try:
                (self.directory / f"{writer}.lock").unlink()
            except FileNotFoundError:
                pass
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()

    def forget_locks(self) -> None:
        """After fork(): the child must not release (or think it holds) the parent's locks."""
        for fh in self._locks.values():
            try:
                fh.close()
            except OSError:
                pass
        self._locks.clear()

    def unlock_all(self) -> None:
        for writer in list(self._locks):
            self.unlock(writer)
