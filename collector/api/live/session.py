"""One websocket session of ``WS /api/v1/live``: authenticate, subscribe, send frames.

The session reads the client's messages (each one replaces its subscription, optionally
resuming from a cursor) and runs one sender that sends whatever is pending at most every
``interval``, with a keepalive when nothing was sent for ``KEEPALIVE`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from ...settings import Settings
from ..auth import auth_enabled, handshake_token, identify_websocket
from .buffer import LiveClient
from .protocol import Subscription, cursor_json, parse_cursor, parse_message

AUTH_TIMEOUT = 10.0
KEEPALIVE = 15.0


class Hub(Protocol):
    """What a session needs of the hub (``LiveHub``)."""

    settings: Settings
    streams: list[str]
    interval: float
    max_pending: int

    async def attach(self, client: LiveClient, cursor: dict[int, str]) -> None: ...

    def detach(self, client: LiveClient) -> None: ...

    def cursor_for(self, client: LiveClient) -> dict[int, str]: ...


async def serve(hub: Hub, websocket: WebSocket) -> None:
    """``WS /api/v1/live``: authenticate, subscribe, then receive frames until the client leaves."""
    await websocket.accept()
    first: dict[str, Any] | None = None
    if auth_enabled(hub.settings) and not handshake_token(websocket):
        try:
            first = await asyncio.wait_for(_receive(websocket), AUTH_TIMEOUT)
        except (TimeoutError, WebSocketDisconnect, ValueError):
            first = None
    if await identify_websocket(websocket, first) is None:
        await websocket.close(4401, "a valid token is required")
        return
    client: LiveClient | None = None
    current: list[LiveClient] = []  # the sender always serves the latest subscription
    sender: asyncio.Task[None] | None = None
    try:
        message = first
        while True:
            if message is None:
                message = await _receive(websocket)
            if set(message) != {"token"}:  # a message with only a token just authenticates
                new = LiveClient(Subscription.parse(message), hub.max_pending)
                cursor = parse_cursor(message.get("cursor"), len(hub.streams))
                if client is not None:
                    hub.detach(client)
                    new.wake = client.wake
                client = new
                current[:] = [new]
                if sender is None:
                    sender = asyncio.create_task(_send_forever(hub, websocket, lambda: current[0]))
                await hub.attach(client, cursor)
            message = None
    except (WebSocketDisconnect, RuntimeError):
        pass
    except ValueError as exc:
        with contextlib.suppress(Exception):
            await websocket.close(4400, str(exc)[:120])
    finally:
        if client is not None:
            hub.detach(client)
        if sender is not None:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender


async def _receive(websocket: WebSocket) -> dict[str, Any]:
    return parse_message(await websocket.receive_text())


async def _send_forever(hub: Hub, websocket: WebSocket, current: Callable[[], LiveClient]) -> None:
    """Send a frame whenever data is pending, at most one per interval; keepalives when idle."""
    while websocket.application_state == WebSocketState.CONNECTED:
        client = current()
        try:
            await asyncio.wait_for(client.wake.wait(), KEEPALIVE)
        except TimeoutError:
            keepalive = {"type": "keepalive", "cursor": cursor_json(hub.cursor_for(client))}
            await websocket.send_text(json.dumps(keepalive))
            continue
        client = current()
        client.wake.clear()
        if client.catching_up:  # attach() wakes it again once the replay is in
            continue
        started = time.monotonic()
        frame = client.take_frame(hub.cursor_for(client))
        if frame is not None:
            await websocket.send_text(json.dumps(frame, separators=(",", ":")))
        rest = hub.interval - (time.monotonic() - started)
        if rest > 0:
            await asyncio.sleep(rest)
