"""The MLflow API served for real (uvicorn over the test's Redis and store) for the real ``mlflow`` client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from collector.api.app import create_app
from tests.api.server import ServerThread


@pytest.fixture
def mlflow_api(settings: Any, store: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., ServerThread]]:
    """``mlflow_api(**settings_overrides)``: serve runwatch and point the ``mlflow`` client at it.

    A collector (the ``collector`` fixture, or a service) must run for writes to be answered promptly.
    """
    import mlflow

    servers: list[ServerThread] = []
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")

    def start(**overrides: Any) -> ServerThread:
        configured = settings.model_copy(update=overrides) if overrides else settings
        app = create_app(configured, redis=aioredis.from_url(configured.redis_url), store=store)
        server = ServerThread(app).start()
        servers.append(server)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        mlflow.set_tracking_uri(server.url)
        return server

    yield start
    while mlflow.active_run() is not None:
        mlflow.end_run()
    for server in servers:
        server.stop()
