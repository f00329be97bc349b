"""In real Chromium: a page served from another local port cannot read the live websocket.

Browsers apply no CORS to websockets, and a page on another port of the same host (a Grafana,
a Jupyter, anything the user opens on 127.0.0.1) is same-site, so it even carries the dashboard's
``SameSite=Strict`` cookie. The same script run from the runwatch origin itself reads the frame:
the refusal is about where the page comes from, nothing else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from collector.api.app import create_app
from emitter.events import encode_entry, shard_for
from tests.api.server import ServerThread
from tests.helpers import free_port, wait_for

OPEN_LIVE = """(url) => {
  window.live = {opened: false, messages: [], closed: null};
  const ws = new WebSocket(url);
  ws.onopen = () => { window.live.opened = true; ws.send("{}"); };
  ws.onmessage = (event) => { window.live.messages.push(event.data); };
  ws.onclose = (event) => { window.live.closed = event.code; };
}"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = b"<!doctype html><title>another app on this machine</title><p>hello"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def serve(settings: Any, store: Any) -> Iterator[Any]:
    servers: list[ServerThread] = []

    def start(**overrides: Any) -> ServerThread:
        configured = settings.model_copy(update=overrides)
        app = create_app(configured, redis=aioredis.from_url(configured.redis_url), store=store)
        servers.append(ServerThread(app).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def other_site() -> Iterator[str]:
    """A plain web page on another port of 127.0.0.1: what Grafana or Jupyter would be."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def read_live(page: Any, server: ServerThread, settings: Any) -> dict[str, Any]:
    """Open the live websocket from ``page``; once subscribed, log a point; what the page could read."""
    hub = server.app.state.live
    before = set(hub.clients)  # the previous page's socket may still be leaving
    page.evaluate(OPEN_LIVE, server.ws_url)
    wait_for(
        lambda: page.evaluate("window.live.closed !== null") or set(hub.clients) - before,
        what="the websocket to be refused or subscribed",
    )
    if set(hub.clients) - before:
        client = redis.Redis.from_url(settings.redis_url)
        events = [[0, time.time(), "metrics", {"step": 1, "values": {"secret_loss": 0.25}}]]
        client.xadd(
            settings.keys.stream(shard_for("victim-run", settings.shards)), encode_entry("victim-run", "w", events)
        )
        client.close()
        page.wait_for_function("window.live.messages.length > 0", timeout=10_000)
    result: dict[str, Any] = page.evaluate("window.live")
    return result


@pytest.mark.parametrize("auth", [False, True], ids=["auth-off", "auth-on-with-the-dashboard-cookie"])
def test_a_page_from_another_local_port_cannot_read_live_metrics(
    auth: bool, serve: Any, store: Any, settings: Any, page: Any, other_site: str
) -> None:
    server = serve(auth=auth)
    page.goto(server.url + "/healthz")  # the runwatch origin (a page that opens no websocket of its own)
    if auth:
        token = store.tokens.create("viewer", "the user", 0.0)[1]
        signed_in = page.evaluate(
            """async (token) => (await fetch("/api/v1/session", {method: "POST",
                 headers: {"Content-Type": "application/json"}, body: JSON.stringify({token})})).status""",
            token,
        )
        assert signed_in == 200  # the browser now holds the HttpOnly SameSite=Strict cookie
    own = read_live(page, server, settings)
    assert own["opened"] and "secret_loss" in own["messages"][0]  # the dashboard's origin reads

    page.goto(other_site)
    assert page.evaluate("location.origin") != server.url
    foreign = read_live(page, server, settings)
    assert foreign["messages"] == [] and not foreign["opened"]
    assert foreign["closed"] == 1006  # the handshake was refused (the browser reports no reason)
