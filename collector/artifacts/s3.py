"""``S3BlobStore``: blobs in S3-compatible object storage, ``s3://bucket/prefix/blobs/<sha256>``.

boto3 comes with the ``server`` extra; ``RUNWATCH_S3_ENDPOINT_URL`` points it at MinIO,
Ceph, R2 or any other S3-compatible server (credentials and region from the usual AWS
variables or files).

The spec said: upload to a temporary key while hashing, verify, then copy. A multipart
upload gives the same guarantee without the copy: its object does not exist until
``CompleteMultipartUpload``, which is sent only once the digest and size are verified;
on a mismatch, an oversize body or any failure the upload is aborted, so no partial
object is ever visible under a blob's key. (A body smaller than one part is hashed in
memory and sent with one ``PutObject`` after verification.) Uploads left incomplete by
a killed API are aborted when a store opens, after a day; a bucket lifecycle rule
``AbortIncompleteMultipartUpload`` does the same on the server's side.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from .base import CHUNK, BlobTooLarge, DigestMismatch, check_sha256

logger = logging.getLogger(__name__)

PART_BYTES = 8 << 20  # S3 wants parts of 5 MiB at least (but the last) and at most 10,000 of them
MAX_PARTS = 10_000
STALE_UPLOAD = dt.timedelta(days=1)


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` as ``("bucket", "some/prefix")``."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"not an s3://bucket/prefix URL: {url!r}")
    return parts.netloc, parts.path.strip("/")


class S3BlobStore:
    """``base.BlobStore`` over S3-compatible storage.

    >>> blobs = S3BlobStore("s3://models/runwatch", endpoint_url="http://127.0.0.1:9000")
    >>> blobs.has("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
    False
    """

    def __init__(self, url: str, *, endpoint_url: str | None = None, client: Any = None) -> None:
        self.url = url
        self.bucket, prefix = parse_s3_url(url)
        self._blobs = f"{prefix}/blobs/" if prefix else "blobs/"
        if client is None:
            import boto3  # the server extra; imported only when S3 is configured

            client = boto3.client("s3", endpoint_url=endpoint_url)
        self.client = client
        self._abort_stale_uploads()

    def __repr__(self) -> str:
        return f"<S3BlobStore {self.url}>"

    def key_of(self, sha256: str) -> str:
        return self._blobs + check_sha256(sha256)

    def has(self, sha256: str) -> bool:
        return self.size(sha256) is not None

    def size(self, sha256: str) -> int | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key_of(sha256))
        except Exception as exc:
            if _status(exc) == 404:
                return None
            raise
        return int(head["ContentLength"])

    def writer(self, sha256: str, max_bytes: int) -> S3BlobWriter:
        return S3BlobWriter(self, check_sha256(sha256), max_bytes)

    def open(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key_of(sha256)}
        if start or end is not None:
            args["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            body = self.client.get_object(**args)["Body"]
        except Exception as exc:
            if _status(exc) == 404:
                raise FileNotFoundError(sha256) from None
            raise
        return _chunks(body)

    def delete(self, sha256: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key_of(sha256))

    def incomplete_uploads(self) -> list[str]:
        """Keys of multipart uploads begun and neither completed nor aborted."""
        found = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self._blobs)
        return [upload["Key"] for upload in found.get("Uploads", [])]

    def close(self) -> None:
        self.client.close()

    def _abort_stale_uploads(self) -> None:
        try:
            found = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self._blobs)
        except Exception as exc:  # noqa: BLE001 - housekeeping must not keep the API from starting
            logger.warning("could not list incomplete uploads in %s: %s", self.url, exc)
            return
        cutoff = dt.datetime.now(dt.UTC) - STALE_UPLOAD
        for upload in found.get("Uploads", []):
            if upload["Initiated"] < cutoff:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                logger.info("aborted a stale incomplete upload of %s", upload["Key"])


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(code) if code else None


def _chunks(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK)
    finally:
        body.close()


class S3BlobWriter:
    """A blob being written as a multipart upload to its final key, completed only once verified."""

    def __init__(self, store: S3BlobStore, sha256: str, max_bytes: int) -> None:
        self._store = store
        self._expected = sha256
        self._max_bytes = max_bytes
        self._key = store.key_of(sha256)
        self._part_bytes = max(PART_BYTES, -(-max_bytes // MAX_PARTS))
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self._size = 0
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._done = False

    def write(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._max_bytes:
            self.abort()
            raise BlobTooLarge(self._max_bytes)
        self._hash.update(chunk)
        self._buffer += chunk
        try:
            while len(self._buffer) >= self._part_bytes:
                self._send_part(bytes(self._buffer[: self._part_bytes]))
                del self._buffer[: self._part_bytes]
        except BaseException:
            self.abort()
            raise

    def commit(self) -> int:
        actual = self._hash.hexdigest()
        if actual != self._expected:
            self.abort()
            raise DigestMismatch(self._expected, actual)
        client, bucket = self._store.client, self._store.bucket
        try:
            if self._upload_id is None:
                client.put_object(Bucket=bucket, Key=self._key, Body=bytes(self._buffer))
            else:
                if self._buffer:
                    self._send_part(bytes(self._buffer))
                client.complete_multipart_upload(
                    Bucket=bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
                )
        except BaseException:
            self.abort()
            raise
        self._done = True
        self._buffer = bytearray()
        return self._size

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        self._buffer = bytearray()
        if self._upload_id is not None:
            try:
                self._store.client.abort_multipart_upload(
                    Bucket=self._store.bucket, Key=self._key, UploadId=self._upload_id
                )
            except Exception as exc:  # noqa: BLE001 - the stale-upload sweep gets it later
                logger.warning("could not abort the upload of %s: %s", self._key, exc)

    def _send_part(self, data: bytes) -> None:
        client, bucket = self._store.client, self._store.bucket
        if self._upload_id is None:
            self._upload_id = client.create_multipart_upload(Bucket=bucket, Key=self._key)["UploadId"]
        number = len(self._parts) + 1
        part = client.upload_part(Bucket=bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=data)
        self._parts.append({"ETag": part["ETag"], "PartNumber": number})
