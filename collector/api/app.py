"""``create_app``: the FastAPI application, with everything it uses injected."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ..settings import Settings
from ..store.base import Store


def create_app(
    settings: Settings,
    *,
    redis: aioredis.Redis,
    store: Store,
    registry: CollectorRegistry | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """Build the API app over injected Redis, store and metrics registry (nothing global)."""
    app = FastAPI(title="runwatch", version="0.1.0", docs_url="/docs", openapi_url="/api/v1/openapi.json")
    registry = registry or CollectorRegistry()
    app.state.settings = settings
    app.state.redis = redis
    app.state.store = store
    app.state.registry = registry
    app.state.clock = clock

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, Any]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> Response:
        """Redis and the store are reachable."""
        problems = {}
        try:
            await redis.ping()
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            problems["redis"] = str(exc)
        try:
            store.count_points("__readyz__")
        except Exception as exc:  # noqa: BLE001
            problems["store"] = str(exc)
        status = 200 if not problems else 503
        return JSONResponse({"status": "ready" if not problems else "unavailable", "problems": problems}, status)

    @app.get("/metrics", tags=["metrics"], include_in_schema=False)
    async def metrics() -> Response:
        """Prometheus exposition of the service and of active runs."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
