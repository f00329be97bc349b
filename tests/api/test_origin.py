"""Cross-site reading: the websocket checks ``Origin``; an auth-off server answers only loopback ``Host`` names.

A web page the user opens can open a websocket to any address (browsers do not apply CORS to
websockets), and a page on another port of the same host carries the victim's SameSite cookie
(SameSite is per site, not per origin). DNS rebinding makes an attacker's name resolve to
127.0.0.1, so its requests carry ``Host: attacker.example``: an auth-off server must refuse it.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from collector.api.guards import normalize_origin, split_host
from tests.api.server import ServerThread
from tests.helpers import wait_for


def ws_connect(server: ServerThread, *, host: str | None = None, origin: str | None = None) -> Any:
    """A websocket to ``server`` sending ``Host: host`` (the server's own address by default) and ``Origin``."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    authority = host or f"127.0.0.1:{server.port}"
    return connect(
        f"ws://{authority}/api/v1/live",
        sock=sock,
        origin=Origin(origin) if origin is not None else None,
        open_timeout=10,
    )


def refused(server: ServerThread, **kwargs: Any) -> tuple[int, str]:
    """The HTTP status and body of a refused websocket handshake (fails if it was accepted)."""
    with pytest.raises(InvalidStatus) as raised:
        with ws_connect(server, **kwargs):
            pass
    response = raised.value.response
    return response.status_code, response.body.decode() if response.body else ""


def subscribed(server: ServerThread, **kwargs: Any) -> None:
    """The handshake is accepted and a subscription gets registered."""
    hub = server.app.state.live
    before = set(hub.clients)  # a previous socket may still be leaving
    with ws_connect(server, **kwargs) as ws:
        ws.send(json.dumps({}))
        wait_for(lambda: set(hub.clients) - before, what="the subscription registered")


def test_a_websocket_from_another_origin_is_refused_with_the_reason(serve: Any) -> None:
    server = serve()
    own = f"http://127.0.0.1:{server.port}"
    subscribed(server)  # no Origin: not a browser (curl, the websockets CLI, a script)
    subscribed(server, origin=own)  # the dashboard itself
    for other in (
        f"http://127.0.0.1:{server.port + 1}",  # Grafana or Jupyter on another port of the same host
        f"http://localhost:{server.port}",  # another origin, even if it is the same machine
        f"https://127.0.0.1:{server.port}",
        "http://attacker.example",
        "null",  # a sandboxed iframe or a file:// page
    ):
        status, reason = refused(server, origin=other)
        assert status == 403, other
        assert "origin" in reason.lower() and "RUNWATCH_ALLOWED_ORIGINS" in reason, reason


def test_configured_origins_are_allowed(serve: Any) -> None:
    server = serve(allowed_origins=["http://grafana.lan:3000"])
    subscribed(server, origin="http://grafana.lan:3000")
    subscribed(server, origin="HTTP://GRAFANA.LAN:3000")  # origins compare case-insensitively
    assert refused(server, origin="http://grafana.lan:3001")[0] == 403


def test_the_public_url_is_an_allowed_origin(serve: Any) -> None:
    server = serve(public_url="https://runwatch.example.com/")  # behind a TLS proxy: the browser's origin
    subscribed(server, origin="https://runwatch.example.com")


def test_an_auth_off_server_answers_only_localhost_and_addresses(serve: Any) -> None:
    server = serve()
    with httpx.Client(base_url=server.url) as http:
        for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}", f"[::1]:{server.port}", "localhost"):
            assert http.get("/api/v1/runs", headers={"Host": host}).status_code == 200, host
        # an address is never rebound (the attack needs a name): probes and scrapes by IP work
        for host in (f"10.1.2.3:{server.port}", "[fd00::5]"):
            assert http.get("/healthz", headers={"Host": host}).status_code == 200, host
        for host in (
            f"attacker.example:{server.port}",
            "attacker.example",
            f"127.0.0.1.attacker.example:{server.port}",
        ):
            for path in ("/api/v1/runs", "/", "/metrics", "/readyz"):
                response = http.get(path, headers={"Host": host})
                assert response.status_code == 400, (host, path)
                assert "RUNWATCH_ALLOWED_HOSTS" in response.json()["detail"]
        assert http.get("/healthz", headers={"Host": "attacker.example"}).status_code == 400
    status, reason = refused(server, host=f"attacker.example:{server.port}")
    assert status == 400 and "RUNWATCH_ALLOWED_HOSTS" in reason
    # a rebinding page's Origin matches its Host: only the Host check stops it
    assert refused(server, host="attacker.example", origin="http://attacker.example")[0] == 400


def test_configured_host_names_are_served(serve: Any) -> None:
    server = serve(allowed_hosts=["runwatch.lan"])
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/api/v1/runs", headers={"Host": f"runwatch.lan:{server.port}"}).status_code == 200
        assert http.get("/api/v1/runs", headers={"Host": "RunWatch.LAN."}).status_code == 200
        assert http.get("/api/v1/runs", headers={"Host": "localhost"}).status_code == 200
        assert http.get("/api/v1/runs", headers={"Host": "other.lan"}).status_code == 400
    subscribed(server, host=f"runwatch.lan:{server.port}", origin=f"http://runwatch.lan:{server.port}")


def test_with_auth_on_any_host_name_is_served_unless_hosts_are_configured(serve: Any, store: Any) -> None:
    token = store.tokens.create("viewer", "v", 0.0)[1]
    headers = {"Authorization": f"Bearer {token}", "Host": "runwatch.example.com"}
    with httpx.Client(base_url=serve(auth=True).url) as http:
        assert http.get("/api/v1/runs", headers=headers).status_code == 200  # a token proves more than a name
    with httpx.Client(base_url=serve(auth=True, allowed_hosts=["runwatch.lan"]).url) as http:
        assert http.get("/api/v1/runs", headers=headers).status_code == 400


def test_host_names_and_origins_are_compared_in_their_canonical_form() -> None:
    assert split_host("Example.COM.:8765") == ("example.com", 8765)
    assert split_host("[::1]:80") == ("::1", 80) and split_host("[::1]") == ("::1", None)
    assert split_host("localhost") == ("localhost", None)
    for bad in ("", ":80", "[::1", "host:port", "a@b", "a/b:1"):
        with pytest.raises(ValueError):
            split_host(bad)
    assert normalize_origin("HTTP://Host:80") == "http://host"
    assert normalize_origin("https://host:443/") == "https://host"
    assert normalize_origin("http://[::1]:8765") == "http://[::1]:8765"
    for not_an_origin in ("null", "file://", "ftp://host", "http://user@host", "http://host/path", "http://host:x"):
        assert normalize_origin(not_an_origin) is None, not_an_origin
