"""The blob store's interface: content-addressed bytes, written atomically and verified.

A blob is named by the SHA-256 of its bytes. Writing one is a ``BlobWriter``: chunks go
to a temporary place while they are hashed and counted; ``commit()`` publishes them under
the final name only when the digest is the one the client announced and the size is
within the limit. Until then nothing is visible, and ``abort()`` (or any failure) leaves
nothing behind under a final name. A reader therefore never sees a partial blob.

The API reads an upload from an async stream and hands chunks to a thread, which is why
writing is a writer object rather than only ``put(chunks)`` (which is ``write_all``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from emitter.artifact_paths import is_sha256

from ..errors import CollectorError

__all__ = ["ArtifactError", "BlobStore", "BlobTooLarge", "BlobWriter", "DigestMismatch", "check_sha256", "write_all"]

CHUNK = 1 << 20


class ArtifactError(CollectorError):
    """Base of the blob store's errors (``BlobTooLarge``, ``DigestMismatch``)."""


class BlobTooLarge(ArtifactError):
    """More bytes arrived than the limit allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the upload is larger than the {limit} byte limit")
        self.limit = limit


class DigestMismatch(ArtifactError):
    """The bytes do not hash to the SHA-256 the client announced."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"sha256 mismatch: announced {expected}, received bytes hash to {actual}")
        self.expected = expected
        self.actual = actual


def check_sha256(value: str) -> str:
    """``value`` if it is a lowercase hex SHA-256, else ``ValueError`` (never a path component otherwise)."""
    if not is_sha256(value):
        raise ValueError(f"not a lowercase hex sha256: {value[:80]!r}")
    return value


class BlobWriter(Protocol):
    """One blob being written: ``write`` chunks, then ``commit`` (or ``abort``)."""

    def write(self, chunk: bytes) -> None:
        """Hash, count and stage a chunk; ``BlobTooLarge`` past the limit (the writer is then aborted)."""
        ...

    def commit(self) -> int:
        """Verify and publish under the final name; the size. ``DigestMismatch`` (aborted) if the bytes differ."""
        ...

    def abort(self) -> None:
        """Discard what was staged (idempotent; a committed blob stays)."""
        ...


class BlobStore(Protocol):
    """Content-addressed, immutable blobs (``local.py``: a directory; ``s3.py``: S3-compatible storage)."""

    url: str  # where the blobs live (file:///… or s3://bucket/prefix), for logs and docs

    def has(self, sha256: str) -> bool:
        """Whether a committed blob with this digest exists."""
        ...

    def size(self, sha256: str) -> int | None:
        """The size of a committed blob, None when there is none."""
        ...

    def writer(self, sha256: str, max_bytes: int) -> BlobWriter:
        """Start writing the blob the client says hashes to ``sha256``, at most ``max_bytes`` long."""
        ...

    def open(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes ``[start, end]`` (inclusive, as in HTTP ranges; ``end`` None: to the end), in chunks.

        ``FileNotFoundError`` when there is no such blob.
        """
        ...

    def delete(self, sha256: str) -> None:
        """Remove a blob (tests and operators; the service never deletes)."""
        ...

    def close(self) -> None: ...


def write_all(store: BlobStore, chunks: Iterable[bytes], sha256: str, max_bytes: int) -> int:
    """``put``: stream ``chunks`` into a new blob; its size. Aborted on any failure."""
    writer = store.writer(sha256, max_bytes)
    try:
        for chunk in chunks:
            writer.write(chunk)
        return writer.commit()
    except BaseException:
        writer.abort()
        raise
