"""Artifact bytes: a content-addressed blob store behind a small Protocol (``base.BlobStore``).

``RUNWATCH_ARTIFACTS_URL`` picks the backend: ``file:///path`` (the default,
``$RUNWATCH_HOME/artifacts``: ``local.py``) or ``s3://bucket/prefix`` (``s3.py``, boto3,
``RUNWATCH_S3_ENDPOINT_URL`` for S3-compatible servers). What an artifact *is* (its
versions, files, aliases and lineage) lives in the store (``store.artifacts``); this
package only keeps bytes.

>>> blobs = open_blob_store(settings)
>>> blobs.has(sha256)
True
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from .base import ArtifactError, BlobStore, BlobTooLarge, BlobWriter, DigestMismatch, write_all

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["ArtifactError", "BlobStore", "BlobTooLarge", "BlobWriter", "DigestMismatch", "open_blob_store", "write_all"]


def open_blob_store(settings: Settings) -> BlobStore:
    """The blob store the settings name (a directory under ``$RUNWATCH_HOME`` by default)."""
    url = settings.artifacts_url
    if not url:
        from .local import LocalBlobStore

        return LocalBlobStore(settings.home / "artifacts")
    scheme = urlsplit(url).scheme
    if scheme == "file":
        from .local import LocalBlobStore

        return LocalBlobStore(Path(unquote(urlsplit(url).path)))
    if scheme == "s3":
        from .s3 import S3BlobStore

        return S3BlobStore(url, endpoint_url=settings.s3_endpoint_url)
    raise ValueError(f"unsupported artifacts_url {url.split('://')[0]}://...: use file:///path or s3://bucket/prefix")
