"""``create_app``: the FastAPI application, with everything it uses injected."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from fastapi import APIRouter, Depends, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp

from ..artifacts import BlobStore, open_blob_store
from ..redact import redact_text
from ..settings import Settings
from ..store.base import Store
from . import artifacts, audit, auth, models, runs, silences
from .guards import HostGuard, HostPolicy
from .limits import BodyGuard, BodyLimits
from .live import LiveHub
from .web import SecurityHeaders, mount_dashboard

logger = logging.getLogger(__name__)


class RunwatchApp(FastAPI):
    """FastAPI with the security headers outside everything, Starlette's own 500 answer included.

    ``add_middleware`` can only place a middleware inside ``ServerErrorMiddleware``, so a 500 for
    an unhandled exception would go out without them.
    """

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def create_app(
    settings: Settings,
    *,
    redis: aioredis.Redis,
    store: Store,
    registry: CollectorRegistry | None = None,
    render_metrics: Callable[[], bytes] | None = None,
    clock: Callable[[], float] = time.time,
    blobs: BlobStore | None = None,
) -> FastAPI:
    """Build the API app over injected Redis, store, blob store and metrics registry (nothing global).

    Without ``blobs``, the artifact blob store the settings name is opened.

    Raises ``ConfigError`` for a non-loopback bind without auth (unless ``insecure``).
    The live hub is ``app.state.live``; it starts with the first websocket, and whoever
    runs the server awaits ``app.state.live.close()`` on shutdown.
    """
    auth.check_bind(settings)
    app = RunwatchApp(title="runwatch", version="0.1.0", docs_url="/docs", openapi_url="/api/v1/openapi.json")
    _add_operations(
        app, settings, redis=redis, store=store, registry=registry, render_metrics=render_metrics, clock=clock
    )
    app.state.live = LiveHub(settings, redis=redis, store=store, clock=clock)
    app.state.blobs = blobs if blobs is not None else open_blob_store(settings)
    _add_guards(app, settings)

    api = APIRouter(prefix="/api/v1")
    api.include_router(runs.router, tags=["runs"])
    api.include_router(auth.router)
    api.include_router(silences.router)
    api.include_router(audit.router)
    api.include_router(models.router)  # before artifacts: /artifacts/{name}/aliases is not a version
    api.include_router(artifacts.router)
    api.add_api_websocket_route("/live", app.state.live.endpoint)
    app.include_router(api)
    mount_dashboard(app)
    return app


def create_metrics_app(
    settings: Settings,
    *,
    redis: aioredis.Redis,
    store: Store,
    registry: CollectorRegistry | None = None,
    render_metrics: Callable[[], bytes] | None = None,
) -> FastAPI:
    """Only ``/metrics``, ``/healthz`` and ``/readyz``: what ``runwatch collect`` serves.

    A collector replica has no API, but Prometheus still scrapes it and an orchestrator
    still probes it. Same bind and auth rules as the full app.
    """
    auth.check_bind(settings)
    app = RunwatchApp(title="runwatch collector", version="0.1.0", docs_url=None, redoc_url=None, openapi_url=None)
    _add_operations(app, settings, redis=redis, store=store, registry=registry, render_metrics=render_metrics)
    _add_guards(app, settings)
    return app


def _unavailable(dependency: str, exc: Exception) -> str:
    """What ``/readyz`` says of a dependency that failed: the kind of failure only (logged in full)."""
    logger.warning("readyz: %s is unavailable: %s", dependency, redact_text(str(exc)))
    return f"{dependency} did not answer ({type(exc).__name__}); the server's log has the details"


def _add_guards(app: FastAPI, settings: Settings) -> None:
    """Middleware, outermost first (inside ``RunwatchApp``'s security headers): the Host/Origin checks,
    then authentication and the size cap before any request body is read."""
    app.add_middleware(BodyGuard, settings=settings, limits=BodyLimits.from_settings(settings))
    app.add_middleware(HostGuard, policy=HostPolicy.from_settings(settings))


def _add_operations(
    app: FastAPI,
    settings: Settings,
    *,
    redis: aioredis.Redis,
    store: Store,
    registry: CollectorRegistry | None,
    render_metrics: Callable[[], bytes] | None,
    clock: Callable[[], float] = time.time,
) -> None:
    """Health probes and the Prometheus endpoint, shared by both apps."""
    registry = registry or CollectorRegistry()
    app.state.settings = settings
    app.state.redis = redis
    app.state.store = store
    app.state.registry = registry
    app.state.clock = clock

    async def healthz() -> dict[str, Any]:
        """The process is up."""
        return {"status": "ok"}

    async def readyz() -> Response:
        """Redis and the store are reachable. Says which is not, never where it is: the details
        (addresses, DSNs) go to the server's log, since an unauthenticated probe must not reveal them."""
        problems = {}
        try:
            await redis.ping()
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            problems["redis"] = _unavailable("redis", exc)
        try:
            await run_in_threadpool(store.ping)
        except Exception as exc:  # noqa: BLE001
            problems["store"] = _unavailable("store", exc)
        status = 200 if not problems else 503
        return JSONResponse({"status": "ready" if not problems else "unavailable", "problems": problems}, status)

    for prefix in ("", "/api/v1"):
        app.add_api_route(f"{prefix}/healthz", healthz, methods=["GET"], tags=["health"], include_in_schema=not prefix)
        app.add_api_route(f"{prefix}/readyz", readyz, methods=["GET"], tags=["health"], include_in_schema=not prefix)

    def metrics() -> Response:
        """Prometheus exposition of the service and of active runs."""
        # sync: FastAPI runs it in its thread pool, so a scrape never stalls websockets
        # the exporter's render() gives the same samples ~10x faster than generate_latest
        body = render_metrics() if render_metrics is not None else generate_latest(registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    # With auth on, Prometheus scrapes with a viewer token (authorization.credentials) unless metrics_public.
    guard = [] if settings.metrics_public else [Depends(auth.require("viewer"))]
    app.add_api_route(
        "/metrics", metrics, methods=["GET"], tags=["metrics"], include_in_schema=False, dependencies=guard
    )
