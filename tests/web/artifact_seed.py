"""Artifacts for the dashboard's browser tests, stored the real way: bytes through the upload API, then the event.

``store_version`` uploads each file with ``PUT /api/v1/runs/{id}/artifacts/{name}/{file}`` (as the
emitter's uploader does) and then writes the run's ``artifact`` event through the store's write path
(``FakeRun.emit``), so the collector's rules decide what becomes a version and what is rejected.
``png`` makes a real PNG of a given size (the browser decodes it; its natural width is the proof).
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Mapping
from typing import Any

from tests.artifacts.helpers import put_file


def png(width: int, height: int, rgb: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    """A ``width`` x ``height`` PNG of one colour (8-bit RGB, filter 0 on every row)."""
    row = b"\x00" + bytes(rgb) * width
    raw = zlib.compress(row * height, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def store_version(
    url: str,
    run: Any,
    name: str,
    files: Mapping[str, bytes],
    *,
    type: str = "file",
    aliases: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Upload ``files`` (path inside the artifact → bytes) to the API at ``url``, then emit the output event."""
    listed = []
    for path, data in files.items():
        status, body = put_file(url, run.id, f"{name}/{path}", data)
        assert status in (200, 201), (status, body)
        listed.append({"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
    payload: dict[str, Any] = {"name": name, "uri": f"runwatch:{name}", "type": type, "files": listed}
    payload["aliases"] = aliases or []
    if metadata is not None:
        payload["metadata"] = metadata
    run.emit("artifact", payload)


def use_version(run: Any, name: str, version: int) -> None:
    """Record that ``run`` consumed ``name`` v``version`` (what ``run.use_artifact`` sends)."""
    run.emit("artifact", {"name": name, "uri": f"runwatch:{name}:v{version}", "role": "input", "version": version})


def never_uploaded(run: Any, name: str) -> None:
    """An output event whose bytes were never uploaded: the collector rejects it with the reason."""
    data = b"these bytes never reached the blob store"
    file = {"path": "x.bin", "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    run.emit("artifact", {"name": name, "uri": f"runwatch:{name}", "files": [file]})


def reference(run: Any, name: str, uri: str, size: int | None = None) -> None:
    """An artifact named only by URI (the contract's original form): recorded, never downloadable."""
    payload: dict[str, Any] = {"name": name, "uri": uri}
    if size is not None:
        payload["size"] = size
    run.emit("artifact", payload)
