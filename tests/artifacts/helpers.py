"""Requests sent exactly as written (no client-side path normalisation), and artifacts stored the real way."""

from __future__ import annotations

import hashlib
import http.client
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit


def raw_request(
    base_url: str,
    method: str,
    target: str,
    *,
    body: bytes | Iterable[bytes] | None = None,
    headers: Mapping[str, str] | None = None,
    chunked: bool = False,
) -> tuple[int, dict[str, str], bytes]:
    """One request whose target goes on the wire byte for byte as given (httpx would resolve ``..``)."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        connection.request(method, target, body=body, headers=dict(headers or {}), encode_chunked=chunked)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def put_file(base_url: str, run_id: str, path: str, data: bytes, sha256: str | None = None) -> tuple[int, Any]:
    status, _, body = raw_request(
        base_url,
        "PUT",
        f"/api/v1/runs/{run_id}/artifacts/{quote(path, safe='/')}",
        body=data,
        headers={"X-Runwatch-Sha256": sha256 or hashlib.sha256(data).hexdigest()},
    )
    return status, json.loads(body) if body else None


def store_artifact(
    api: Any,
    run: Any,
    name: str,
    files: Mapping[str, bytes],
    *,
    aliases: list[str] | None = None,
    type: str = "file",
) -> None:
    """Upload each file through the API, then write the run's output event through the store's write path."""
    listed = []
    for path, data in files.items():
        status, _ = put_file(api.url, run.id, f"{name}/{path}", data)
        assert status in (200, 201), status
        listed.append({"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
    run.emit(
        "artifact",
        {"name": name, "uri": f"runwatch:{name}", "type": type, "aliases": aliases or [], "files": listed},
    )
