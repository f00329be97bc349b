"""Access control: tokens and roles on every route and on the websocket; bind safety; the token CLI."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from collector.api.auth import check_bind
from collector.cli.tokens import token as token_cli
from collector.errors import ConfigError
from collector.store.base import ROLES, hash_token
from tests.helpers import wait_for
from tests.stores import dump

pytestmark = pytest.mark.every_backend

OPEN = {"/healthz", "/readyz", "/api/v1/healthz", "/api/v1/readyz", "/api/v1/session", "/api/v1/openapi.json"}


def _routes(http: httpx.Client) -> list[tuple[str, str]]:
    """Every HTTP route of the API (from its OpenAPI), with path parameters filled in."""
    spec = http.get("/api/v1/openapi.json").json()
    routes = [(method.upper(), path) for path, item in spec["paths"].items() for method in item]
    routes.append(("GET", "/metrics"))
    return [(m, p.replace("{ref}", "r1").replace("{token_id}", "1").replace("{silence_id}", "1")) for m, p in routes]


@pytest.fixture
def secured(serve: Any, store: Any, fake_run: Any) -> dict[str, Any]:
    fake_run("p", name="r1")
    server = serve(auth=True)
    tokens = {role: store.tokens.create(role, role, 0.0)[1] for role in ROLES}
    return {"server": server, "tokens": tokens}


def test_every_route_rejects_missing_and_bad_tokens(secured: Any) -> None:
    with httpx.Client(base_url=secured["server"].url) as http:
        routes = [r for r in _routes(http) if r[1] not in OPEN]
        assert len(routes) >= 12
        for method, path in routes:
            for headers in ({}, {"Authorization": "Bearer rw_wrong"}, {"Cookie": "runwatch_token=rw_wrong"}):
                response = http.request(method, path, headers=headers, json={})
                assert response.status_code == 401, (method, path, headers)
        assert http.get("/api/v1/runs", headers={"Authorization": f"Bearer {secured['tokens']['viewer']}"}).is_success
        assert http.get("/healthz").is_success  # probes stay open


def test_roles_are_enforced(secured: Any) -> None:
    tokens = secured["tokens"]
    with httpx.Client(base_url=secured["server"].url) as http:

        def call(method: str, path: str, role: str, **kwargs: Any) -> int:
            headers = {"Authorization": f"Bearer {tokens[role]}"}
            return http.request(method, path, headers=headers, **kwargs).status_code

        assert call("GET", "/api/v1/runs/r1", "viewer") == 200
        assert call("POST", "/api/v1/runs/r1/notes", "viewer", json={"text": "x"}) == 403
        assert call("POST", "/api/v1/runs/r1/notes", "writer", json={"text": "x"}) == 202
        assert call("GET", "/api/v1/tokens", "writer") == 403
        assert call("GET", "/api/v1/tokens", "admin") == 200
        created = http.post(
            "/api/v1/tokens",
            json={"role": "viewer", "name": "ci"},
            headers={"Authorization": f"Bearer {tokens['admin']}"},
        ).json()
        assert http.get("/api/v1/runs", headers={"Authorization": f"Bearer {created['token']}"}).status_code == 200
        assert call("DELETE", f"/api/v1/tokens/{created['id']}", "admin") == 200
        assert http.get("/api/v1/runs", headers={"Authorization": f"Bearer {created['token']}"}).status_code == 401
        listed = http.get("/api/v1/tokens", headers={"Authorization": f"Bearer {tokens['admin']}"}).json()["tokens"]
        assert all("hash" not in t and "token" not in t for t in listed)
        silence = {"rule": "loss-nan", "duration": 3600}
        assert call("POST", "/api/v1/silences", "writer", json=silence) == 403
        assert call("POST", "/api/v1/silences", "admin", json=silence) == 201
        assert call("GET", "/api/v1/silences", "viewer") == 200
        assert call("DELETE", "/api/v1/silences/1", "writer") == 403
        assert call("DELETE", "/api/v1/silences/1", "admin") == 200


def test_the_dashboard_session_cookie_and_its_csrf_guard(secured: Any) -> None:
    with httpx.Client(base_url=secured["server"].url) as http:
        assert http.get("/api/v1/session").json() == {"auth": True, "authenticated": False, "role": None}
        assert http.post("/api/v1/session", json={"token": "rw_nope"}).status_code == 401
        login = http.post("/api/v1/session", json={"token": secured["tokens"]["writer"]})
        assert login.status_code == 200
        set_cookie = login.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=strict" in set_cookie
        assert http.get("/api/v1/runs").status_code == 200  # the cookie now authenticates
        assert http.post("/api/v1/runs/r1/notes", json={"text": "x"}).status_code == 403  # no CSRF header
        ok = http.post("/api/v1/runs/r1/notes", json={"text": "x"}, headers={"X-Requested-With": "runwatch"})
        assert ok.status_code == 202


def _closed_code(url: str, first: dict[str, Any] | None, **kwargs: Any) -> tuple[int | None, list[str]]:
    received: list[str] = []
    with connect(url, open_timeout=10, **kwargs) as ws:
        try:
            if first is not None:
                ws.send(json.dumps(first))  # a bad cookie may already have closed it: that races the send
            while True:
                received.append(str(ws.recv(timeout=10)))
        except ConnectionClosed as closed:
            return (closed.rcvd.code if closed.rcvd else None), received
    return None, received


def test_the_websocket_closes_4401_before_any_data_without_a_valid_token(secured: Any) -> None:
    url = secured["server"].ws_url
    assert _closed_code(url, {}) == (4401, [])
    assert _closed_code(url, {"token": "rw_bad"}) == (4401, [])
    assert _closed_code(url, {}, additional_headers={"Cookie": "runwatch_token=rw_bad"}) == (4401, [])
    with connect(url, open_timeout=10) as ws:  # a good token in the first message is accepted
        ws.send(json.dumps({"token": secured["tokens"]["viewer"], "runs": ["r1"]}))
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)  # open, subscribed, nothing to say yet


def test_a_public_bind_needs_auth_or_insecure(settings: Any) -> None:
    with pytest.raises(ConfigError, match="refusing to serve on 0.0.0.0"):
        check_bind(settings.model_copy(update={"host": "0.0.0.0"}))
    check_bind(settings.model_copy(update={"host": "0.0.0.0", "auth": True}))
    check_bind(settings.model_copy(update={"host": "0.0.0.0", "insecure": True}))
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_bind(settings.model_copy(update={"host": host}))


def test_token_cli_prints_the_token_once_and_stores_only_its_hash(home: Any, store: Any) -> None:
    runner = CliRunner()
    result = runner.invoke(token_cli, ["create", "--role", "viewer", "--name", "grafana", "--home", str(home)])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[0]
    assert secret.startswith("rw_") and len(secret) > 40
    assert store.tokens.verify(secret, 0.0).role == "viewer"
    everything = dump(store)
    assert secret not in everything and hash_token(secret) in everything
    listed = runner.invoke(token_cli, ["list", "--home", str(home)])
    assert "grafana" in listed.output and secret not in listed.output
    assert runner.invoke(token_cli, ["revoke", "1", "--home", str(home)]).exit_code == 0
    assert store.tokens.verify(secret, 0.0) is None
    bad = runner.invoke(token_cli, ["create", "--role", "root", "--home", str(home)])
    assert bad.exit_code != 0


def _close_code(ws: Any, within: float = 20.0) -> int | None:
    """Read until the server closes the socket: its close code (None if still open after ``within`` s)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            break
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
    return None


def test_revoking_a_token_over_the_api_closes_its_open_websockets_4401(secured: Any, store: Any) -> None:
    server, tokens = secured["server"], secured["tokens"]
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    with httpx.Client(base_url=server.url, headers=admin) as http:
        doomed = http.post("/api/v1/tokens", json={"role": "viewer", "name": "leaked"}).json()
        hub = server.app.state.live
        with (
            connect(server.ws_url) as subscribed,
            connect(server.ws_url) as only_signed_in,
            connect(server.ws_url, additional_headers={"Cookie": f"runwatch_token={doomed['token']}"}) as by_cookie,
            connect(server.ws_url) as other_token,
        ):
            subscribed.send(json.dumps({"token": doomed["token"], "runs": ["r1"]}))
            only_signed_in.send(json.dumps({"token": doomed["token"]}))
            by_cookie.send(json.dumps({"runs": ["r1"]}))
            other_token.send(json.dumps({"token": tokens["viewer"], "runs": ["r1"]}))
            wait_for(lambda: len(hub.clients) == 3, what="three subscriptions registered")
            wait_for(lambda: hub.token_watch.watching == 4, what="four authenticated sockets watched")

            assert http.delete(f"/api/v1/tokens/{doomed['id']}").status_code == 200

            assert _close_code(subscribed) == 4401
            assert _close_code(only_signed_in) == 4401
            assert _close_code(by_cookie) == 4401
            wait_for(lambda: len(hub.clients) == 1, what="the revoked token's subscriptions detached")
            other_token.ping().wait(10)  # another token's socket is still open
            assert [c.sub.runs for c in hub.clients] == [frozenset({"r1"})]


def test_a_token_revoked_elsewhere_closes_its_websockets_at_the_next_check(secured: Any, store: Any) -> None:
    """Another API replica, or `runwatch token revoke`, writes the store: the hub re-verifies periodically."""
    server = secured["server"]
    token_id, token = store.tokens.create("viewer", "elsewhere", 0.0)
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"token": token, "runs": ["r1"]}))
        wait_for(lambda: server.app.state.live.clients, what="subscription registered")
        assert store.tokens.revoke(token_id, 0.0)
        assert _close_code(ws) == 4401
