"""``LocalBlobStore``: blobs as files under one directory, ``blobs/ab/cd/<sha256>``.

A write goes to ``tmp/<random>`` while it is hashed, is fsynced, and is renamed into
place only once verified: a blob under its final name is always whole. Temporary files
older than a day (an API killed mid-upload) are removed when the store opens. Blob
names are built from validated hex digests only, and files are opened without
following symlinks.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from .base import CHUNK, BlobTooLarge, DigestMismatch, check_sha256

logger = logging.getLogger(__name__)

STALE_TEMP_SECONDS = 24 * 3600


class LocalBlobStore:
    """``base.BlobStore`` over a local (or mounted) directory.

    >>> blobs = LocalBlobStore(Path(".runwatch/artifacts"))
    >>> size = write_all(blobs, [b"hello"], hashlib.sha256(b"hello").hexdigest(), max_bytes=1 << 20)
    >>> b"".join(blobs.open(hashlib.sha256(b"hello").hexdigest()))
    b'hello'
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.url = self.root.resolve().as_uri()
        self.temp_dir = self.root / "tmp"
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        (self.root / "blobs").mkdir(exist_ok=True)
        self._remove_stale_temps()

    def __repr__(self) -> str:
        return f"<LocalBlobStore root={self.root}>"

    def path_of(self, sha256: str) -> Path:
        sha256 = check_sha256(sha256)
        return self.root / "blobs" / sha256[:2] / sha256[2:4] / sha256

    def has(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def size(self, sha256: str) -> int | None:
        try:
            return self.path_of(sha256).stat().st_size
        except FileNotFoundError:
            return None

    def writer(self, sha256: str, max_bytes: int) -> LocalBlobWriter:
        return LocalBlobWriter(self, check_sha256(sha256), max_bytes)

    def open(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        fd = os.open(self.path_of(sha256), os.O_RDONLY | os.O_NOFOLLOW)
        return _read_range(fd, start, end)

    def delete(self, sha256: str) -> None:
        try:
            self.path_of(sha256).unlink()
        except FileNotFoundError:
            pass

    def temp_files(self) -> list[Path]:
        """Uploads in progress (or left by a killed API)."""
        return sorted(self.temp_dir.iterdir())

    def close(self) -> None:
        pass

    def _remove_stale_temps(self) -> None:
        cutoff = time.time() - STALE_TEMP_SECONDS
        for path in self.temp_dir.iterdir():
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    logger.info("removed a stale partial upload %s", path)
            except FileNotFoundError:
                pass


def _read_range(fd: int, start: int, end: int | None) -> Iterator[bytes]:
    with os.fdopen(fd, "rb", buffering=0) as fh:
        fh.seek(start)
        remaining = None if end is None else end - start + 1
        while remaining is None or remaining > 0:
            block = fh.read(CHUNK if remaining is None else min(CHUNK, remaining))
            if not block:
                return
            if remaining is not None:
                remaining -= len(block)
            yield block


class LocalBlobWriter:
    """A blob being written to ``tmp/``; renamed into ``blobs/`` by ``commit`` once verified."""

    def __init__(self, store: LocalBlobStore, sha256: str, max_bytes: int) -> None:
        self._store = store
        self._expected = sha256
        self._max_bytes = max_bytes
        self._temp = store.temp_dir / f"{uuid.uuid4().hex}.part"
        self._file = open(self._temp, "xb")  # noqa: SIM115 - closed by commit or abort
        self._hash = hashlib.sha256()
        self._size = 0
        self._done = False

    def write(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._max_bytes:
            self.abort()
            raise BlobTooLarge(self._max_bytes)
        self._hash.update(chunk)
        self._file.write(chunk)

    def commit(self) -> int:
        actual = self._hash.hexdigest()
        if actual != self._expected:
            self.abort()
            raise DigestMismatch(self._expected, actual)
        try:
            self._file.flush()
            os.fsync(self._file.fileno())  # a renamed blob must survive a power cut whole
            self._file.close()
            final = self._store.path_of(self._expected)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._temp, final)  # the same content may be committed twice concurrently: harmless
        except BaseException:
            self.abort()
            raise
        self._done = True
        return self._size

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        self._file.close()
        try:
            self._temp.unlink()
        except FileNotFoundError:
            pass
