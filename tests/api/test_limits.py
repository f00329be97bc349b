"""Memory before authentication: no body is read from an anonymous caller, nor past its route's cap.

Each test counts the request-body bytes the application pulled from the server through
``receive()`` (uvicorn holds at most 64 KiB of an unread body and then stops reading the socket),
so "never read" is a number, not a memory reading.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import struct
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.api.server import ServerThread
from tests.helpers import wait_for

MiB = 1 << 20


class CountingApp:
    """The app, counting the request-body bytes it reads through ``receive()``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = app.state
        self.body_bytes = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def counting_receive() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                self.body_bytes += len(message.get("body", b""))
            return message

        await self.app(scope, counting_receive, send)


def post(
    port: int,
    path: str,
    *,
    send: int,
    declare: int | None = None,
    chunk: int = 64 * 1024,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST ``send`` bytes of body (``Content-Length: declare``, or chunked when None); the status and JSON answer.

    The body is sent only as far as the server keeps reading; the answer is read as soon as it comes.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append(f"Content-Length: {declare}" if declare is not None else "Transfer-Encoding: chunked")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    sock.setblocking(False)
    answer = b""
    sent = 0
    ended = declare is not None  # a chunked body ends with an empty chunk
    piece = b'{"text": "' + b"x" * chunk
    while b"\r\n\r\n" not in answer:
        try:
            answer += sock.recv(65536)
            continue
        except BlockingIOError:
            pass
        if sent < send:
            data = piece[: min(chunk, send - sent)]
            framed = data if declare is not None else f"{len(data):x}\r\n".encode() + data + b"\r\n"
            try:
                sock.send(framed)  # may be partial or refused: the server stopped reading, which is the point
                sent += len(data)
            except BlockingIOError:
                sock.settimeout(30)
                answer += sock.recv(65536)  # the server is not reading: its answer comes now
                sock.setblocking(False)
        elif not ended:
            with contextlib.suppress(OSError):
                sock.send(b"0\r\n\r\n")
            ended = True
        else:
            sock.settimeout(30)
            answer += sock.recv(65536)
            sock.setblocking(False)
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    sock.settimeout(30)
    while len(body) < length:
        body += sock.recv(65536)
    sock.close()
    return int(head.split()[1]), json.loads(body)


@pytest.fixture
def counted(make_app: Any, fake_run: Any) -> Any:
    servers: list[ServerThread] = []
    fake_run("p", name="r1")

    def start(**overrides: Any) -> tuple[ServerThread, CountingApp]:
        app = CountingApp(make_app(**overrides))
        servers.append(ServerThread(app).start())
        return servers[-1], app

    yield start
    for server in servers:
        server.stop()


def test_an_unauthenticated_body_is_answered_401_without_reading_a_byte_of_it(counted: Any) -> None:
    server, app = counted(auth=True)
    notes = "/api/v1/runs/r1/notes"
    status, answer = post(server.port, notes, declare=512 * 1024, send=512 * 1024)  # within the 1 MiB cap
    assert (status, answer["detail"]) == (401, "a valid token is required")
    assert post(server.port, notes, declare=None, send=4 * MiB)[0] == 401  # chunked: no length to judge by
    assert post(server.port, notes, declare=300 * MiB, send=4 * MiB)[0] == 413  # the length alone refuses it
    bad = {"Authorization": "Bearer rw_wrong", "Cookie": "runwatch_token=rw_wrong"}
    assert post(server.port, notes, declare=512 * 1024, send=512 * 1024, headers=bad)[0] == 401
    assert app.body_bytes == 0


def test_an_authenticated_callers_body_is_read(counted: Any, store: Any) -> None:
    server, app = counted(auth=True)
    token = store.tokens.create("writer", "w", 0.0)[1]
    status, answer = post(
        server.port, "/api/v1/runs/r1/notes", declare=None, send=1000, headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 422 and app.body_bytes == 1000  # read, and found to be unfinished JSON


def test_a_body_past_its_routes_cap_is_refused_413_with_the_reason(counted: Any) -> None:
    server, app = counted(max_body_bytes=256 * 1024)
    status, answer = post(server.port, "/api/v1/runs/r1/notes", declare=300 * MiB, send=4 * MiB)
    assert status == 413 and "262,144 bytes" in answer["detail"] and "RUNWATCH_MAX_BODY_BYTES" in answer["detail"]
    assert app.body_bytes == 0  # the length said it all
    status, answer = post(server.port, "/api/v1/runs/r1/notes", declare=None, send=4 * MiB)
    assert status == 413 and "262,144 bytes" in answer["detail"]
    # chunked: read up to the cap, then cut off (past it by at most one receive(): what uvicorn had buffered)
    assert 256 * 1024 < app.body_bytes < 512 * 1024
    status, _ = post(server.port, "/api/v1/session", declare=8 * 1024, send=8 * 1024)
    assert status == 413  # the anonymous login route takes a token, not a document


def test_a_websocket_message_past_the_cap_closes_1009_before_it_is_buffered(serve: Any) -> None:
    server = serve(auth=True, max_ws_message_bytes=64 * 1024)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /api/v1/live HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    handshake = b""
    while b"\r\n\r\n" not in handshake:
        handshake += sock.recv(1)
    assert handshake.startswith(b"HTTP/1.1 101")
    # an anonymous client's first message: a text frame announcing 14 MiB, of which only 64 KiB follow
    mask = os.urandom(4)
    sock.sendall(bytes([0x81, 0x80 | 127]) + struct.pack("!Q", 14 * MiB) + mask)
    sock.sendall(bytes(b ^ mask[i % 4] for i, b in enumerate(b"x" * 64 * 1024)))
    reply = b""
    while len(reply) < 4:  # the server's close frame: 0x88, length, then the code
        reply += sock.recv(64)
    sock.close()
    assert reply[0] == 0x88 and struct.unpack("!H", reply[2:4])[0] == 1009  # refused on the header alone


def test_the_session_refuses_a_message_past_the_cap_whatever_the_server_allows(serve: Any, settings: Any) -> None:
    """Behind an ASGI server with a larger frame limit the session still applies the setting."""
    server = serve(max_ws_message_bytes=64 * 1024, ws_max_size=MiB)
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"keys": ["k" * 200] * 400}))  # 80 KB: a frame the server passes on
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=20)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    with connect(server.ws_url) as ws:  # within the cap: an ordinary subscription
        ws.send(json.dumps({"keys": ["k" * 200] * 100}))
        wait_for(lambda: server.app.state.live.clients, what="the subscription registered")
