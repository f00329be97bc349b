"""Fixtures of the API tests: an app over the test's own Redis and store, served for real when needed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from collector.api.app import create_app
from tests.api.server import ServerThread


@pytest.fixture
def make_app(settings: Any, store: Any) -> Callable[..., Any]:
    """Build the app, optionally with settings overrides (e.g. ``auth=True``)."""

    def make(**overrides: Any) -> Any:
        configured = settings.model_copy(update=overrides) if overrides else settings
        for name, value in overrides.items():  # fields the settings model may not declare yet
            if not hasattr(configured, name) or getattr(configured, name) != value:
                object.__setattr__(configured, name, value)
        return create_app(configured, redis=aioredis.from_url(configured.redis_url), store=store)

    return make


@pytest.fixture
def client(serve: Callable[..., ServerThread]) -> Iterator[httpx.Client]:
    """An HTTP client of the app served by uvicorn (auth off, loopback)."""
    server = serve()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


@pytest.fixture
def serve(make_app: Callable[..., Any]) -> Iterator[Callable[..., ServerThread]]:
    """Start the app in uvicorn (``serve(auth=True)`` etc.; ``ws_max_size`` overrides the server's); stopped at the end."""
    servers: list[ServerThread] = []

    def start(app: Any = None, *, ws_max_size: int | None = None, **overrides: Any) -> ServerThread:
        server = ServerThread(app or make_app(**overrides), ws_max_size=ws_max_size).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
