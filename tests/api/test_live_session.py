"""One live session's sender, in process: frames go out at once, and coalesce only while a send is under way.

The session runs against a fake websocket and a fake hub (its two seams) on the test's own event
loop, and the test waits by yielding to the loop a bounded number of times, never by sleeping: a
frame that needs a timer to fire (a fixed coalescing interval) never comes within those yields.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.websockets import WebSocketState

from collector.api.live import LiveClient
from collector.api.live.session import serve
from emitter.events import Batch, Event


class FakeSocket:
    """The websocket a session sees: client messages in through a queue, frames out into ``sent``.

    While ``gate`` is cleared, ``send_text`` waits: a client whose socket is full.
    """

    def __init__(self, settings: Any) -> None:
        self.app = SimpleNamespace(state=SimpleNamespace(settings=settings))
        self.headers: dict[str, str] = {}
        self.cookies: dict[str, str] = {}
        self.application_state = WebSocketState.CONNECTING
        self.incoming: asyncio.Queue[str] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.sending = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def accept(self) -> None:
        self.application_state = WebSocketState.CONNECTED

    async def receive_text(self) -> str:
        return await self.incoming.get()

    async def send_text(self, text: str) -> None:
        self.sending += 1
        await self.gate.wait()
        self.sent.append(json.loads(text))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.application_state = WebSocketState.DISCONNECTED


class FakeHub:
    """The hub a session sees; the test offers entries to its clients itself."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.streams = ["events-0"]
        self.max_pending = 10_000
        self.clients: list[LiveClient] = []

    async def attach(self, client: LiveClient, cursor: dict[int, str]) -> None:
        self.clients.append(client)

    def detach(self, client: LiveClient) -> None:
        if client in self.clients:
            self.clients.remove(client)

    def cursor_for(self, client: LiveClient) -> dict[int, str]:
        return dict(client.cursor)

    def watch_token(self, token: str, on_revoked: Callable[[], None]) -> Callable[[], None]:
        return lambda: None


async def settled(predicate: Callable[[], Any], yields: int = 200) -> None:
    """Yield to the event loop until ``predicate`` holds; fail if it takes more than ``yields`` turns."""
    for _ in range(yields):
        if predicate():
            return
        await asyncio.sleep(0)
    pytest.fail(f"not settled within {yields} turns of the event loop (something waits on a timer)")


def entry(step: int) -> Batch:
    event = Event("r", "w", step, 0.0, "metrics", {"step": step, "values": {"loss": step / 10}})
    return Batch("r", "w", [event])


def steps(frame: dict[str, Any]) -> list[int]:
    return [step for series in frame["series"] for step in series["steps"]]


@pytest.fixture
async def session(settings: Any) -> Any:
    hub, socket = FakeHub(settings), FakeSocket(settings)
    task = asyncio.create_task(serve(hub, socket))  # type: ignore[arg-type]
    socket.incoming.put_nowait(json.dumps({"runs": ["r"]}))
    await settled(lambda: hub.clients)
    yield hub.clients[0], socket
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_client_that_keeps_up_gets_each_entry_in_a_frame_of_its_own_at_once(session: Any) -> None:
    client, socket = session
    for step in range(5):
        client.offer(0, f"{step + 1}-0", entry(step))
        await settled(lambda: len(socket.sent) == step + 1)  # noqa: B023 - checked before the next step
    assert [steps(frame) for frame in socket.sent] == [[0], [1], [2], [3], [4]]
    assert [frame["cursor"] for frame in socket.sent][-1] == {"0": "5-0"}
    assert not any(frame["coalesced"] for frame in socket.sent)


async def test_what_arrives_while_a_frame_is_being_sent_goes_out_together_in_the_next(session: Any) -> None:
    client, socket = session
    socket.gate.clear()  # the client's socket is full: the first frame's send waits
    client.offer(0, "1-0", entry(0))
    await settled(lambda: socket.sending == 1)
    for step in range(1, 6):
        client.offer(0, f"{step + 1}-0", entry(step))
    socket.gate.set()
    await settled(lambda: len(socket.sent) == 2)
    assert [steps(frame) for frame in socket.sent] == [[0], [1, 2, 3, 4, 5]]
    assert socket.sent[1]["cursor"] == {"0": "6-0"}
