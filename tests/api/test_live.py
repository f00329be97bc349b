"""WS /api/v1/live: points within one frame, resume without gap or duplicate, slow clients bounded."""

from __future__ import annotations

import base64
import json
import os
import random
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
import redis
from redis.typing import EncodableT, FieldT
from websockets.sync.client import ClientConnection, connect

from alerts import Transition
from collector.alert_stream import entry_fields
from collector.api.live import LiveClient, Subscription, parse_cursor
from emitter.events import Batch, Event, encode_entry, shard_for
from tests.helpers import wait_for

pytestmark = pytest.mark.every_backend


class Producer:
    """Appends metric events of one run straight to its stream, as an emitter does."""

    def __init__(self, redis_url: str, settings: Any, run_id: str = "live-run") -> None:
        self.client = redis.Redis.from_url(redis_url)
        self.run_id = run_id
        self.writer = f"w-{os.urandom(4).hex()}"
        self.stream = settings.keys.stream(shard_for(run_id, settings.shards))
        self.seq = 0

    def log(self, steps: range, keys: int = 1, value: Any = None) -> str:
        events = []
        for step in steps:
            values = {f"k{i}": (random.random() if value is None else value) for i in range(keys)}
            events.append([self.seq, time.time(), "metrics", {"step": step, "values": values}])
            self.seq += 1
        entry_id = self.client.xadd(self.stream, encode_entry(self.run_id, self.writer, events))
        return entry_id.decode() if isinstance(entry_id, bytes) else entry_id


@pytest.fixture
def producer(redis_url: str, settings: Any) -> Iterator[Producer]:
    made = Producer(redis_url, settings)
    yield made
    made.client.close()


def frames(ws: ClientConnection, timeout: float = 10.0) -> Iterator[dict[str, Any]]:
    """Data frames as they come (keepalives skipped)."""
    while True:
        frame = json.loads(ws.recv(timeout=timeout))
        if frame["type"] == "frame":
            yield frame


def steps_of(frame: dict[str, Any], key: str = "k0") -> list[int]:
    return [step for s in frame["series"] if s["key"] == key for step in s["steps"]]


def test_a_point_arrives_in_the_first_frame_after_it_is_committed_to_the_stream(serve: Any, producer: Producer) -> None:
    server = serve()
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"runs": [producer.run_id]}))
        wait_for(lambda: server.app.state.live.clients, what="subscription registered")
        incoming = frames(ws)
        for step in range(15):
            producer.log(range(step, step + 1), value=float("nan") if step == 7 else step / 10)
            frame = next(incoming)
            assert steps_of(frame) == [step]
            assert frame["series"][0]["values"] == ["NaN" if step == 7 else step / 10]
            assert frame["coalesced"] is False


def test_status_and_alert_events_are_pushed(serve: Any, producer: Producer) -> None:
    server = serve()
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({}))
        wait_for(lambda: server.app.state.live.clients, what="subscription registered")
        entry = encode_entry(
            producer.run_id,
            producer.writer,
            [
                [0, time.time(), "status", {"status": "failed", "exit_code": 3}],
                [1, time.time(), "alert", {"title": "<b>x</b>", "text": "t", "level": "error"}],
            ],
        )
        producer.client.xadd(producer.stream, entry)
        events = next(frames(ws))["events"]
        assert [(e["kind"], e.get("status"), e.get("title")) for e in events] == [
            ("status", "failed", None),
            ("alert", None, "<b>x</b>"),
        ]


def rule_alert(run_id: str, project: str, value: float = float("nan"), episode: int = 1) -> Transition:
    return Transition(
        rule="loss-nan",
        run_id=run_id,
        state="firing",
        kind="nonfinite",
        episode=episode,
        seq=0,
        at=time.time(),
        severity="critical",
        notify=("slack",),
        title="loss is not finite",
        metric="loss",
        value=value,
        step=7,
        run_name="resnet-a",
        project=project,
    )


def publish(client: redis.Redis, stream: str, transition: Transition) -> None:
    """Append a committed alert to the alerts stream, as the collector's publisher does."""
    client.xadd(stream, cast(dict[FieldT, EncodableT], entry_fields(transition)))


def test_alerts_raised_by_the_collectors_rules_are_pushed_to_subscribers_of_the_run_or_project(
    serve: Any, producer: Producer, settings: Any, fake_run: Any
) -> None:
    server = serve()
    fake_run("vision", run_id=producer.run_id)
    with connect(server.ws_url) as by_project, connect(server.ws_url) as elsewhere:
        by_project.send(json.dumps({"project": "vision"}))
        elsewhere.send(json.dumps({"project": "audio"}))
        wait_for(lambda: len(server.app.state.live.clients) == 2, what="both subscriptions registered")
        publish(producer.client, settings.keys.alerts, rule_alert(producer.run_id, "vision"))
        producer.client.xadd(settings.keys.alerts, {b"run": b"x", b"t": b"not json"})  # skipped, nothing else lost
        producer.log(range(0, 1))
        received: list[dict[str, Any]] = []
        for frame in frames(by_project):
            received += frame["events"]
            if steps_of(frame):
                break
        [alert] = received
        assert (alert["kind"], alert["run"], alert["rule"], alert["state"], alert["severity"]) == (
            "rule_alert",
            producer.run_id,
            "loss-nan",
            "firing",
            "critical",
        )
        assert (alert["metric"], alert["value"], alert["step"], alert["title"]) == (
            "loss",
            "NaN",
            7,
            "loss is not finite",
        )
        with pytest.raises(TimeoutError):
            next(frames(elsewhere, timeout=1.0))  # another project's subscriber gets nothing


def test_a_reconnecting_client_replays_the_alerts_it_missed(serve: Any, producer: Producer, settings: Any) -> None:
    server = serve()
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"runs": [producer.run_id]}))
        wait_for(lambda: server.app.state.live.clients, what="subscription registered")
        producer.log(range(0, 1))
        cursor = next(frames(ws))["cursor"]
    assert str(len(server.app.state.live.streams) - 1) in cursor, "the cursor covers the alerts stream"
    publish(producer.client, settings.keys.alerts, rule_alert(producer.run_id, "p", value=12.5, episode=2))
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"runs": [producer.run_id], "cursor": cursor}))
        events = next(frames(ws))["events"]
    assert [(e["kind"], e["value"]) for e in events] == [("rule_alert", 12.5)]


def test_project_subscription_and_key_filter(serve: Any, redis_url: str, settings: Any, fake_run: Any) -> None:
    server = serve()
    mine = Producer(redis_url, settings, "run-in-project")
    other = Producer(redis_url, settings, "run-elsewhere")
    fake_run("vision", run_id="run-in-project")
    fake_run("audio", run_id="run-elsewhere")
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"project": "vision", "keys": ["k1"]}))
        wait_for(lambda: server.app.state.live.clients, what="subscription registered")
        other.log(range(0, 5), keys=2)
        mine.log(range(0, 5), keys=2)
        frame = next(frames(ws))
        assert {(s["run"], s["key"]) for s in frame["series"]} == {("run-in-project", "k1")}


def test_reconnecting_with_the_last_cursor_gives_no_gap_and_no_duplicate(serve: Any, producer: Producer) -> None:
    server = serve()
    total = 3000

    def produce() -> None:
        for start in range(0, total, 10):
            producer.log(range(start, start + 10))
            time.sleep(0.002)

    seen: list[int] = []
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"runs": [producer.run_id]}))
        wait_for(lambda: server.app.state.live.clients, what="subscription registered")
        threading.Thread(target=produce, daemon=True).start()
        for frame in frames(ws):
            seen += steps_of(frame)
            cursor = frame["cursor"]
            if len(seen) > 500:
                break  # drop the connection mid-stream; frames sent after this one are lost with it
    time.sleep(0.3)  # the producer goes on meanwhile
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"runs": [producer.run_id], "cursor": cursor}))
        for frame in frames(ws):
            assert frame["gap"] is False
            seen += steps_of(frame)
            if len(seen) >= total:  # all of them (a duplicate would make the assertion below fail)
                break
    assert seen == list(range(total))  # every point once, in order


def _raw_websocket(port: int, message: dict[str, Any]) -> socket.socket:
    """A client that subscribes and then never reads, with a tiny receive buffer."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /api/v1/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101")
    payload = json.dumps(message).encode()
    mask = os.urandom(4)
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    return sock


@pytest.mark.every_backend("sqlite")  # the hub's back-pressure, read from Redis: the store plays no part
def test_a_slow_client_is_coalesced_and_bounded_and_does_not_delay_a_fast_one(serve: Any, producer: Producer) -> None:
    server = serve()
    hub = server.app.state.live
    hub.max_pending = 20_000
    slow = _raw_websocket(server.port, {"runs": [producer.run_id]})
    received: list[int] = []
    coalesced: list[bool] = []
    try:
        with connect(server.ws_url, max_size=None) as ws:
            ws.send(json.dumps({"runs": [producer.run_id]}))
            wait_for(lambda: len(hub.clients) == 2, what="both clients subscribed")
            # 300 entries x 200 steps x 10 keys = 600,000 points (~12 MB of JSON): well past what the kernel
            # buffers for the slow client (up to 4 MB of send buffer on Linux loopback)
            entries, per_entry = 300, 200
            # The producer runs at most 4 entries (8,000 points, below max_pending) ahead of what the fast
            # client has received: paced by that client, not by the clock, so a loaded machine that stalls the
            # test's reader cannot make the fast client lag into coalescing; and if the slow client held the
            # fast one up, the producer would stall with it and the fast client would time out.
            ahead = 4
            progress = threading.Condition()

            def produce() -> None:
                for i in range(entries):
                    wanted = (i - ahead) * per_entry
                    with progress:
                        progress.wait_for(lambda: len(received) >= wanted, timeout=30)  # noqa: B023 - used at once
                    producer.log(range(i * per_entry, (i + 1) * per_entry), keys=10)

            threading.Thread(target=produce, daemon=True).start()
            for frame in frames(ws):
                with progress:
                    received += steps_of(frame)
                    progress.notify()
                coalesced.append(frame["coalesced"])
                if len(received) >= entries * per_entry:
                    break
            slow_client = next(c for c in hub.clients if c.coalesce_count)
            fast_client = next(c for c in hub.clients if c is not slow_client)
            assert received == list(range(entries * per_entry))  # the fast client got every point, in order
            assert not any(coalesced) and fast_client.coalesce_count == 0
            assert slow_client.max_pending_seen <= hub.max_pending + 10  # bounded: latest values only
            assert slow_client.pending <= len(slow_client.series) + hub.max_pending
            assert slow_client.points_sent < entries * per_entry * 10 / 2  # most of it never queued for it
    finally:
        slow.close()


# ------------------------------------------------------------------ the protocol and one client's buffer, in process


def test_a_cursor_is_checked_item_by_item_and_names_the_bad_one() -> None:
    assert parse_cursor(None, 5) == {}
    assert parse_cursor({"0": "1700000000000-0", "4": "1-2"}, 5) == {0: "1700000000000-0", 4: "1-2"}
    for bad, named in (({"5": "1-0"}, "'5'"), ({"0": "1700000000000"}, "'0'"), ({"x": "1-0"}, "'x'")):
        with pytest.raises(ValueError, match=f"bad cursor item {named}"):
            parse_cursor(bad, 5)
    with pytest.raises(ValueError, match="cursor must be the object"):
        parse_cursor(["0", "1-0"], 5)


def test_a_subscription_is_runs_a_project_or_everything_optionally_some_keys() -> None:
    assert Subscription.parse({}).everything
    assert Subscription.parse({"runs": ["a", "b"], "keys": ["loss"]}) == Subscription(
        frozenset({"a", "b"}), None, frozenset({"loss"})
    )
    assert not Subscription.parse({"project": "vision"}).everything
    for bad, says in (
        ({"runs": "a"}, "runs must be a list"),
        ({"runs": ["r"] * 1001}, "at most 1000"),
        ({"project": 3}, "project must be a string"),
        ({"keys": [1]}, "keys must be a list"),
    ):
        with pytest.raises(ValueError, match=says):
            Subscription.parse(bad)


def metrics(run_id: str, steps: range, **values: float) -> Batch:
    events = [Event(run_id, "w", step, 0.0, "metrics", {"step": step, "values": values}) for step in steps]
    return Batch(run_id, "w", events)


def test_a_lagging_clients_buffer_collapses_to_the_latest_value_per_series() -> None:
    client = LiveClient(Subscription(), max_pending=10)
    client.offer(0, "1-0", metrics("r", range(0, 4), a=1.0, b=2.0))  # 8 points: within the bound
    assert client.pending == 8 and not client.coalesced
    client.offer(0, "2-0", metrics("r", range(4, 6), a=float("nan"), b=3.0))  # 12: past it

    frame = client.take_frame({0: "2-0"})

    assert frame is not None and frame["coalesced"] is True and frame["cursor"] == {"0": "2-0"}
    assert {(s["key"], tuple(s["steps"]), tuple(s["values"])) for s in frame["series"]} == {
        ("a", (5,), ("NaN",)),
        ("b", (5,), (3.0,)),
    }
    assert client.take_frame({0: "2-0"}) is None  # taken: nothing pending, flags reset


def test_entries_arriving_during_a_replay_are_held_then_added_in_order_or_reported_as_a_gap() -> None:
    client = LiveClient(Subscription(keys=frozenset({"a"})), max_pending=3)
    client.catching_up = True
    client.offer(0, "5-0", metrics("r", range(5, 6), a=0.5, skipped=1.0))
    client.add(0, "4-0", metrics("r", range(4, 5), a=0.4))  # the replay's own entry goes in at once
    assert not client.wake.is_set()

    client.release_held()

    assert client.wake.is_set() and not client.catching_up
    frame = client.take_frame(client.cursor)
    assert frame is not None and frame["series"] == [{"run": "r", "key": "a", "steps": [4, 5], "values": [0.4, 0.5]}]
    assert frame["gap"] is False

    client.catching_up = True
    for i in range(4):  # more than max_pending entries held: the client must reload
        client.offer(0, f"{6 + i}-0", metrics("r", range(6 + i, 7 + i), a=1.0))
    client.release_held()
    frame = client.take_frame(client.cursor)
    assert frame is not None and frame["gap"] is True and frame["series"] == []
