"""A proxy in front of the server that answers chosen requests 503, before or after forwarding them.

A 503 *after* forwarding is the hard case for idempotency: the write happened, the client did
not hear it, and it retries the same request.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.helpers import free_port


class FlakyProxy:
    """Forwards to ``upstream``; every ``every``-th request to a path containing ``match`` gets a 503
    (each request at most once, so its retry gets through).

    Odd failures happen after forwarding (the write is stored, the answer lost), even ones before.
    """

    def __init__(self, upstream: str, *, match: str, every: int) -> None:
        self.upstream = upstream
        self.match = match
        self.every = every
        self.seen = 0
        self.failed_after = 0
        self.failed_before = 0
        self._lock = threading.Lock()
        self._failed: set[bytes] = set()
        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._http = httpx.Client(base_url=upstream, timeout=30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def _verdict(self, path: str, body: bytes) -> str:
        if self.match not in path:
            return "pass"
        with self._lock:
            if body in self._failed:  # a retry: let it through (the client gives up after a few)
                return "pass"
            self.seen += 1
            if self.seen % self.every:
                return "pass"
            self._failed.add(body)
            if (self.seen // self.every) % 2:
                self.failed_after += 1
                return "after"
            self.failed_before += 1
            return "before"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                verdict = proxy._verdict(self.path, body)
                if verdict != "before":
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                    answer = proxy._http.request(self.command, self.path, content=body, headers=headers)
                    status, content = answer.status_code, answer.content
                if verdict != "pass":
                    status, content = 503, b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "injected"}'
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
