"""System metrics reach live subscribers like any metric: a running job's samples arrive as frames."""

from __future__ import annotations

import json
from typing import Any

from websockets.sync.client import connect

import emitter
from tests.api.test_live import frames
from tests.helpers import wait_for


def test_a_running_jobs_system_samples_are_pushed_to_a_live_subscriber(serve: Any, emitter_env, monkeypatch) -> None:
    server = serve()
    monkeypatch.setenv("RUNWATCH_SYSTEM_INTERVAL", "0.1")
    run_id = emitter.new_run_id()
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"runs": [run_id], "keys": ["system/memory/percent", "system/cpu_percent"]}))
        wait_for(lambda: server.app.state.live.clients, what="subscription registered")
        run = emitter.init("live-system", run_id=run_id)
        try:
            run.log({"loss": 1.0}, step=3)
            seen: set[str] = set()
            for frame in frames(ws, timeout=30):
                for series in frame["series"]:
                    assert series["run"] == run_id and all(0 <= v <= 100 for v in series["values"])
                    seen.add(series["key"])
                if seen == {"system/memory/percent", "system/cpu_percent"}:
                    break
        finally:
            run.finish()
