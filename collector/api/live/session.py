"""One websocket session of ``WS /api/v1/live``: authenticate, subscribe, send frames, close when revoked.

The session reads the client's messages (each one replaces its subscription, optionally
resuming from a cursor) and runs one sender. The sender sends what is pending as soon as there
is some, so a client that keeps up gets each read of the streams at once; what arrives while a
frame is being written (a slow client's socket is full, or the process is busy) waits in the
client's bounded buffer and goes out together in the next frame: frames coalesce only under
load. A keepalive goes out when nothing was sent for ``KEEPALIVE`` seconds. A socket
authenticated by a token is closed with 4401 as soon as the hub finds that token revoked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from ...settings import Settings
from ..auth import auth_enabled, handshake_token, identify_websocket
from .buffer import LiveClient
from .protocol import MessageTooLarge, Subscription, cursor_json, parse_cursor, parse_message

AUTH_TIMEOUT = 10.0
KEEPALIVE = 15.0
CLOSE_TOO_BIG = 1009  # RFC 6455 "message too big", as the protocol layer closes past ws_max_size
CLOSE_BAD_MESSAGE = 4400
CLOSE_UNAUTHENTICATED = 4401


class Hub(Protocol):
    """What a session needs of the hub (``LiveHub``)."""

    settings: Settings
    streams: list[str]
    max_pending: int

    async def attach(self, client: LiveClient, cursor: dict[int, str]) -> None: ...

    def detach(self, client: LiveClient) -> None: ...

    def cursor_for(self, client: LiveClient) -> dict[int, str]: ...

    def watch_token(self, token: str, on_revoked: Callable[[], None]) -> Callable[[], None]: ...


async def serve(hub: Hub, websocket: WebSocket) -> None:
    """``WS /api/v1/live``: authenticate, subscribe, then receive frames until the client leaves."""
    await websocket.accept()
    first: dict[str, Any] | None = None
    if auth_enabled(hub.settings) and not handshake_token(websocket):
        try:
            first = await asyncio.wait_for(_receive(websocket, hub.settings), AUTH_TIMEOUT)
        except MessageTooLarge as exc:
            await websocket.close(CLOSE_TOO_BIG, str(exc))
            return
        except (TimeoutError, WebSocketDisconnect, ValueError):
            first = None
    caller = await identify_websocket(websocket, first)
    if caller is None:
        await websocket.close(CLOSE_UNAUTHENTICATED, "a valid token is required")
        return
    _, token = caller
    revoked = asyncio.Event()
    unwatch = hub.watch_token(token, revoked.set) if token is not None else None
    session = _Session(hub, websocket)
    receiving = asyncio.create_task(session.receive_forever(first))
    revocation = asyncio.create_task(revoked.wait())
    try:
        await asyncio.wait({receiving, revocation}, return_when=asyncio.FIRST_COMPLETED)
        if revoked.is_set():
            await _stop(receiving)
            await session.stop()  # the sender first: nothing may be sent after the close
            with contextlib.suppress(Exception):
                await websocket.close(CLOSE_UNAUTHENTICATED, "the token was revoked")
    finally:
        if unwatch is not None:
            unwatch()
        await _stop(revocation)
        await _stop(receiving)
        await session.stop()


class _Session:
    """One authenticated socket: its current subscription and the task sending its frames."""

    def __init__(self, hub: Hub, websocket: WebSocket) -> None:
        self.hub = hub
        self.websocket = websocket
        self.client: LiveClient | None = None
        self.sender: asyncio.Task[None] | None = None

    async def receive_forever(self, first: dict[str, Any] | None) -> None:
        """Each message replaces the subscription; a malformed one closes the socket with 4400."""
        message = first
        try:
            while True:
                if message is None:
                    message = await _receive(self.websocket, self.hub.settings)
                if set(message) != {"token"}:  # a message with only a token just authenticates
                    await self._subscribe(message)
                message = None
        except (WebSocketDisconnect, RuntimeError):
            pass
        except ValueError as exc:
            await self.stop()
            code = CLOSE_TOO_BIG if isinstance(exc, MessageTooLarge) else CLOSE_BAD_MESSAGE
            with contextlib.suppress(Exception):
                await self.websocket.close(code, str(exc)[:120])

    async def _subscribe(self, message: dict[str, Any]) -> None:
        new = LiveClient(Subscription.parse(message), self.hub.max_pending)
        cursor = parse_cursor(message.get("cursor"), len(self.hub.streams))
        if self.client is not None:
            self.hub.detach(self.client)
            new.wake = self.client.wake  # the sender always serves the latest subscription
        self.client = new
        if self.sender is None:
            self.sender = asyncio.create_task(_send_forever(self.hub, self.websocket, self._current))
        await self.hub.attach(new, cursor)

    def _current(self) -> LiveClient:
        assert self.client is not None  # the sender starts with the first subscription
        return self.client

    async def stop(self) -> None:
        """Detach from the hub and stop sending (idempotent)."""
        if self.client is not None:
            self.hub.detach(self.client)
        if self.sender is not None:
            await _stop(self.sender)


async def _stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def _receive(websocket: WebSocket, settings: Settings) -> dict[str, Any]:
    """The next message (the server's own frame limit should already have refused an oversized one)."""
    return parse_message(await websocket.receive_text(), settings.max_ws_message_bytes)


async def _send_forever(hub: Hub, websocket: WebSocket, current: Callable[[], LiveClient]) -> None:
    """Send a frame as soon as data is pending (what arrives meanwhile joins the next); keepalives when idle."""
    while websocket.application_state == WebSocketState.CONNECTED:
        client = current()
        if not client.wake.is_set():
            try:
                async with asyncio.timeout(KEEPALIVE):  # no task per wait, unlike wait_for: this runs per frame
                    await client.wake.wait()
            except TimeoutError:
                keepalive = {"type": "keepalive", "cursor": cursor_json(hub.cursor_for(client))}
                await websocket.send_text(json.dumps(keepalive))
                continue
        client = current()
        client.wake.clear()
        if client.catching_up:  # attach() wakes it again once the replay is in
            continue
        frame = client.take_frame(hub.cursor_for(client))
        if frame is not None:
            await websocket.send_text(json.dumps(frame, separators=(",", ":")))
