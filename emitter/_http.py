"""A tiny HTTP client for the runwatch API, on the standard library only (the emitter needs no httpx).

``RUNWATCH_URL`` (default ``http://127.0.0.1:8765``) and ``RUNWATCH_TOKEN`` (a bearer
token) configure it. Failures come in two kinds: ``ApiUnavailable`` (the API cannot be
reached, or answered 5xx/408/429: try again later) and ``ApiError`` (it answered and
refused: trying again changes nothing until something else changes).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlencode, urlsplit

DEFAULT_API_URL = "http://127.0.0.1:8765"
BLOCK = 1 << 20
_RETRYABLE = {408, 429, 500, 502, 503, 504}


class ApiError(Exception):
    """The API answered with an error status; ``status`` and ``detail`` say which and why."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"runwatch API answered {status}: {detail}")
        self.status = status
        self.detail = detail


class ApiUnavailable(ApiError):
    """The API could not be reached, or answered that it cannot serve now (status 0: no answer at all)."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def quote_path(path: str) -> str:
    """An artifact path for a URL: every segment percent-encoded, ``/`` kept."""
    return quote(path, safe="/")


class ApiClient:
    """Requests to the runwatch API, one connection each (uploads are large, requests few).

    >>> api = ApiClient.from_env()
    >>> api.has_blob("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
    False
    """

    def __init__(self, base_url: str = DEFAULT_API_URL, token: str | None = None, *, timeout: float = 60.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"RUNWATCH_URL must be http(s)://host[:port], got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._token = token
        self._timeout = timeout

    @classmethod
    def from_env(cls, url: str | None = None, token: str | None = None) -> ApiClient:
        return cls(
            url or os.environ.get("RUNWATCH_URL") or DEFAULT_API_URL, token or os.environ.get("RUNWATCH_TOKEN") or None
        )

    def __repr__(self) -> str:
        return f"<ApiClient {self.base_url}>"

    # ------------------------------------------------------------------ what the emitter asks

    def has_blob(self, sha256: str) -> bool:
        answer = self.request("HEAD", f"/api/v1/blobs/{sha256}", ok=(200, 404))
        return answer.status == 200

    def upload(self, run_id: str, path: str, source: Path, sha256: str, size: int) -> int:
        """PUT one staged file (streamed from disk); 201 stored, 200 already there."""
        with open(source, "rb") as body:
            answer = self.request(
                "PUT",
                f"/api/v1/runs/{quote(run_id, safe='')}/artifacts/{quote_path(path)}",
                headers={"X-Runwatch-Sha256": sha256, "Content-Length": str(size)},
                body=body,
                ok=(200, 201),
            )
        return answer.status

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params).json()

    def download(self, path: str, destination: IO[bytes], *, params: Mapping[str, Any] | None = None) -> str:
        """Stream a GET into ``destination``; the sha256 of what arrived."""
        digest = hashlib.sha256()
        connection = self._connect()
        try:
            response = self._send(connection, "GET", path, params=params)
            if response.status != 200:
                raise self._error(response.status, response.read())
            for block in iter(lambda: response.read(BLOCK), b""):
                digest.update(block)
                destination.write(block)
        except (OSError, http.client.HTTPException) as exc:
            raise ApiUnavailable(0, f"{type(exc).__name__}: {exc}") from None
        finally:
            connection.close()
        return digest.hexdigest()

    # ------------------------------------------------------------------ the one way to send

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: IO[bytes] | bytes | None = None,
        params: Mapping[str, Any] | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> Answer:
        connection = self._connect()
        try:
            response = self._send(connection, method, path, headers=headers, body=body, params=params)
            data = response.read()
            answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        except (OSError, http.client.HTTPException) as exc:
            raise ApiUnavailable(0, f"{type(exc).__name__}: {exc}") from None
        finally:
            connection.close()
        if answer.status not in ok:
            raise self._error(answer.status, answer.body)
        return answer

    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            import ssl  # only for https: a plain-HTTP emitter never pays for importing it

            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout, context=ssl.create_default_context(), blocksize=BLOCK
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout, blocksize=BLOCK)

    def _send(
        self,
        connection: http.client.HTTPConnection,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: IO[bytes] | bytes | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> http.client.HTTPResponse:
        query = {key: value for key, value in (params or {}).items() if value is not None}
        target = self._prefix + path + (f"?{urlencode(query)}" if query else "")
        sent = {"User-Agent": "runwatch-emitter", **(headers or {})}
        if self._token:
            sent["Authorization"] = f"Bearer {self._token}"
        connection.request(method, target, body=body, headers=sent)
        return connection.getresponse()

    @staticmethod
    def _error(status: int, body: bytes) -> ApiError:
        try:
            detail = str(json.loads(body).get("detail", ""))
        except (ValueError, AttributeError):
            detail = body[:200].decode("utf-8", "replace")
        return (ApiUnavailable if status in _RETRYABLE else ApiError)(status, detail)
