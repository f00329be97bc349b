"""`runwatch api`: replicas that consume nothing serve the same data and push the same live points."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from websockets.sync.client import ClientConnection, connect

import emitter
from emitter.events import GROUP
from tests.helpers import ROOT, CollectorProcess, free_port, wait_for

pytestmark = pytest.mark.every_backend("postgres")


class ApiProcess:
    """``runwatch api`` as a real process on a port of its own."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "collector", "api", "--port", str(self.port)],
                env=env,
                cwd=str(ROOT),
                stdout=out,
                stderr=out,
            )
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/api/v1/live"

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5)

    def ready(self) -> bool:
        try:
            return self.get("/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    def websocket_clients(self) -> float:
        for line in self.get("/metrics").text.splitlines():
            if line.startswith("runwatch_websocket_clients "):
                return float(line.split()[1])
        return 0.0

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def team(emitter_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[CollectorProcess, list[ApiProcess]]]:
    collector = CollectorProcess(
        {**emitter_env, "RUNWATCH_CONSUMER_NAME": "only-collector"}, tmp_path / "collector.log"
    ).start()
    apis = [ApiProcess(emitter_env, tmp_path / f"api{i}.log") for i in range(2)]
    try:
        wait_for(lambda: all(api.ready() for api in apis), timeout=60, what="both API replicas ready")
        yield collector, apis
    finally:
        for api in apis:
            api.stop()
        collector.stop()


def _next_frame(ws: ClientConnection) -> dict[str, Any]:
    while True:
        frame = json.loads(ws.recv(timeout=15))
        if frame["type"] == "frame" and frame["series"]:
            return frame


def test_two_api_replicas_serve_the_same_run_and_push_the_same_live_point(team, settings) -> None:
    _, apis = team
    run = emitter.init("replicas", name="shared")
    run.log({"loss": 0.5}, step=0)
    run.flush()
    wait_for(lambda: all(api.get(f"/api/v1/runs/{run.id}").status_code == 200 for api in apis), what="the run on both")
    first, second = (api.get(f"/api/v1/runs/{run.id}").json() for api in apis)
    first.pop("now"), second.pop("now")  # each replica's own clock
    assert first == second

    with connect(apis[0].ws_url) as ws0, connect(apis[1].ws_url) as ws1:
        for ws in (ws0, ws1):
            ws.send(json.dumps({"runs": [run.id], "keys": ["loss"]}))
        wait_for(lambda: all(api.websocket_clients() == 1 for api in apis), what="both subscriptions registered")
        run.log({"loss": float("nan")}, step=1)
        run.flush()
        pushed = [_next_frame(ws)["series"] for ws in (ws0, ws1)]
    expected = [{"run": run.id, "key": "loss", "steps": [1], "values": ["NaN"]}]
    assert pushed == [expected, expected]
    run.finish()

    client = redis.Redis.from_url(settings.redis_url)
    consumers = {
        c["name"].decode()
        for stream in settings.keys.streams(settings.shards)
        for c in client.xinfo_consumers(stream, GROUP)
    }
    client.close()
    assert consumers <= {"only-collector"}  # the replicas read the streams without joining the group


def test_runwatch_api_without_a_redis_url_says_what_it_needs(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("RUNWATCH_REDIS_URL", raising=False)
    from click.testing import CliRunner

    from collector.cli import main

    result = CliRunner().invoke(main, ["api", "--home", str(tmp_path)])
    assert result.exit_code != 0
    assert "RUNWATCH_REDIS_URL" in result.output
