"""A fake Slack (and any JSON-over-HTTP receiver) on 127.0.0.1, for slack-sdk's real clients.

``FakeSlack`` answers the incoming-webhook path and ``/api/chat.postMessage`` like
Slack does, records every request with the time it arrived and the time it was
answered, and can be scripted to misbehave first::

    with FakeSlack() as slack:
        slack.enqueue(Reply.rate_limited(2), Reply(500), Reply(500))   # then 200s
        WebhookClient(slack.webhook_url).send(text="hi")            # → 429
        slack.wait_for(1)

``RecordingServer`` is the same without Slack's defaults, for generic webhooks, and
records GETs too: pointed at by ``Reply.redirect(other.url)`` it shows whether a client
followed a redirect, and with which headers (a bot token must never arrive there)::

    with RecordingServer() as elsewhere:
        slack.enqueue(Reply.redirect(elsewhere.url + "/collect"))
        ...                                  # send; then
        elsewhere.requests                   # [] when the redirect was refused
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs

__all__ = ["FakeSlack", "RecordedRequest", "RecordingServer", "Reply"]

WEBHOOK_PATH = "/services/T0FAKE/B0FAKE/fakewebhooksecret"


@dataclass(frozen=True)
class Reply:
    """A scripted response."""

    status: int = 200
    body: Any = None  # dict → JSON; str → text; None → the server's default
    headers: dict[str, str] = field(default_factory=dict)
    path: str | None = None  # only for requests to this path (None: any)

    @classmethod
    def rate_limited(cls, retry_after: float, path: str | None = None) -> Reply:
        body = {"ok": False, "error": "ratelimited"}
        return cls(429, body, {"Retry-After": f"{retry_after:g}"}, path)

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Reply:
        return cls(status, "moved", {"Location": location})


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float  # time.time() when the request arrived
    answered_at: float  # time.time() just before the response was written
    status: int  # what the server answered

    def json(self) -> Any:
        content_type = self.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" in content_type:
            return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}
        return json.loads(self.body or b"null")


class RecordingServer:
    """An HTTP server in a thread that records requests and plays scripted replies."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting and inspection
    def enqueue(self, *replies: Reply) -> None:
        """Replies to play, in order, before falling back to the default."""
        with self._lock:
            self._script.extend(replies)

    def clear_replies(self) -> None:
        """Drop the scripted replies not played yet: from now on every request gets the default."""
        with self._lock:
            self._script.clear()

    def wait_for(self, count: int, timeout: float = 10.0, *, status: int | None = None) -> list[RecordedRequest]:
        """Block until ``count`` requests (with ``status``, if given) were recorded."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [r for r in self.requests if status is None or r.status == status]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(found)} of {count} requests after {timeout}s: {self.requests!r}")
                self._lock.wait(remaining)

    def default_reply(self, path: str) -> Reply:
        return Reply(200, {"ok": True})

    def tokens_seen(self) -> list[str]:
        """The ``Authorization`` header of every request, in order (where a bot token went)."""
        return [r.headers.get("authorization", "") for r in self.requests]

    # -- internals
    def _next_reply(self, path: str) -> Reply:
        with self._lock:
            for reply in self._script:
                if reply.path is None or reply.path == path:
                    self._script.remove(reply)
                    return reply
        return self.default_reply(path)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)
            self._lock.notify_all()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.do_POST("GET")

            def do_POST(self, method: str = "POST") -> None:
                received = time.time()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                reply = owner._next_reply(self.path)
                if reply.body is None:
                    reply = Reply(reply.status, owner.default_reply(self.path).body, reply.headers)
                payload = json.dumps(reply.body).encode() if not isinstance(reply.body, str) else reply.body.encode()
                content_type = "text/plain" if isinstance(reply.body, str) else "application/json"
                answered = time.time()
                owner._record(
                    RecordedRequest(
                        method,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                        received,
                        answered,
                        reply.status,
                    )
                )
                self.send_response(reply.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


class FakeSlack(RecordingServer):
    """Slack's incoming webhook (``webhook_url``) and Web API (``api_url``) on 127.0.0.1."""

    @property
    def webhook_url(self) -> str:
        return self.url + WEBHOOK_PATH

    @property
    def api_url(self) -> str:
        return self.url + "/api/"  # WebClient needs the trailing slash

    def default_reply(self, path: str) -> Reply:
        if path.startswith("/api/"):
            return Reply(200, {"ok": True, "channel": "C0FAKE", "ts": f"{time.time():.6f}"})
        return Reply(200, "ok")

    def messages(self) -> list[dict[str, Any]]:
        """Bodies of the requests Slack accepted (status 200), in order."""
        return [r.json() for r in self.requests if r.status == 200]
