"""Assembles the service: Redis (given or embedded), store, consumer and API in one loop.

``runwatch serve`` runs everything; ``runwatch collect`` runs only the consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
import uvicorn
from prometheus_client import CollectorRegistry

from alerts import DeliveryWorker, RuleSet, Transition, build_notifiers

from .alert_stream import AlertPublisher
from .alerting import Alerting, load_ruleset
from .api.app import create_app, create_metrics_app
from .consumer import Consumer
from .digests import DigestScheduler
from .embedded_redis import EmbeddedRedis
from .exporter import Exporter
from .leases import ShardLeases
from .redis_connect import async_client
from .settings import Settings
from .store import Store, open_store

logger = logging.getLogger(__name__)


def http_config(
    app: Any, settings: Settings, *, port: int, host: str | None = None, **overrides: Any
) -> uvicorn.Config:
    """How uvicorn serves the API: no lifespan, a 1 s graceful stop (open websockets cannot hang it).

    The websocket protocol itself refuses a message larger than ``max_ws_message_bytes`` (close
    1009) as soon as its frame header says so, so no client, authenticated or not, can make the
    server buffer more (uvicorn's default is 16 MiB per message). No per-message deflate: live
    frames are small and sent the moment a point arrives, where compressing each one costs more
    CPU than the bytes it saves, and its zlib state is memory per socket from the handshake on.
    """
    options: dict[str, Any] = {
        "host": settings.host if host is None else host,
        "port": port,
        "log_level": "warning",
        "timeout_graceful_shutdown": 1,
        "lifespan": "off",
        "ws_max_size": settings.max_ws_message_bytes,
        "ws_per_message_deflate": False,
    }
    return uvicorn.Config(app, **{**options, **overrides})


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the service owns shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _LoopThread:
    """A coroutine on its own event loop in its own thread.

    The delivery worker calls the store synchronously; on its own loop that never stalls
    the consumer's reads or the API while a large commit holds the store.
    """

    def __init__(self, name: str, coroutine: Coroutine[Any, Any, None]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(coroutine,), name=name, daemon=True)
        self.thread.start()

    def stop(self, stopping: Callable[[], Coroutine[Any, Any, None]]) -> None:
        if self.thread.is_alive():
            asyncio.run_coroutine_threadsafe(stopping(), self.loop).result(10)
            self.thread.join(30)
        self.loop.close()


@dataclass
class Service:
    """One process of runwatch: consumer (unless an API replica), optional API, optional embedded Redis."""

    settings: Settings
    with_api: bool = True
    with_consumer: bool = True  # False: `runwatch api`, an API replica that consumes nothing
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    embedded: EmbeddedRedis | None = None
    store: Store | None = None
    consumer: Consumer | None = None
    exporter: Exporter | None = None
    ruleset: RuleSet | None = None
    alerting: Alerting | None = None
    worker: DeliveryWorker | None = None
    leases: ShardLeases | None = None
    digests: DigestScheduler | None = None
    clock: Callable[[], float] = time.time  # when digests are due (tests inject one)
    redis_url: str = ""
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def resolve_redis(self) -> str:
        """The configured Redis, else runwatch's own embedded one (see ``embedded_redis``)."""
        if self.settings.redis_url:
            self.redis_url = self.settings.redis_url
        else:
            self._make_home()  # before the embedded Redis makes its data directory in it
            self.embedded = EmbeddedRedis(self.settings.home / "redis", port=self.settings.embedded_redis_port)
            self.redis_url = self.embedded.start()
        return self.redis_url

    def _make_home(self) -> None:
        """``$RUNWATCH_HOME`` holds the database, the embedded Redis' data and spools: its owner's only."""
        self.settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)

    async def run(self) -> None:
        """Run until SIGINT/SIGTERM or ``stop`` is set."""
        if not self.redis_url:
            self.resolve_redis()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.stop.set)
        redis = async_client(self.redis_url, self.settings)
        if not self.with_consumer:
            await self._serve_api_only(redis)
            return
        self.store = self.store or open_store(self.settings, for_collector=True)
        # Several collectors divide the shards by lease; alone, this one's leases cover every shard.
        self.consumer = Consumer(self.settings, redis=redis, store=self.store, leased=True)
        self.leases = ShardLeases(self.settings, redis, on_change=self._apply_shards)
        self.exporter = Exporter(self.settings, registry=self.registry, consumer=self.consumer)
        self.consumer.listeners.append(self.exporter.on_commit)
        exporter = self.exporter
        self.ruleset = self.ruleset or load_ruleset(self.settings.alerts_path)
        self.worker = DeliveryWorker(
            self.store.alerts,
            build_notifiers(self.ruleset),
            public_url=self.settings.dashboard_url,
            lease=self.settings.delivery_lease,
            on_attempt=exporter.notification_attempt,
        )
        self.alerting = Alerting(
            self.ruleset,
            self.store.alerts,
            lost_after=self.settings.lost_after,
            dispatch=self.worker.submit,  # new deliveries go straight to the worker after commit
            lease=self.settings.delivery_lease,
        )
        self.store.hooks.append(self.alerting)
        self.digests = DigestScheduler(
            self.ruleset,
            self.store.runs,
            self.store.alerts,
            public_url=self.settings.dashboard_url,
            dispatch=self.worker.submit,
            lease=self.settings.delivery_lease,
            clock=self.clock,
        )
        self.alerting.lost_listeners.append(exporter.runs_lost)
        self.alerting.listeners.append(AlertPublisher(redis, self.settings.keys.alerts, loop))
        delivery = _LoopThread("runwatch-delivery", self.worker.run())

        def count_fired(transitions: Sequence[Transition]) -> None:
            for t in transitions:
                if t.state == "firing" and not t.repeat:
                    exporter.alert_fired(t.rule, t.severity)

        self.alerting.listeners.append(count_fired)
        tasks = [
            asyncio.create_task(self.consumer.run(self.stop), name="runwatch-consumer"),
            asyncio.create_task(self._detect_stalls(), name="runwatch-stall"),
            asyncio.create_task(self._send_digests(), name="runwatch-digests"),
            asyncio.create_task(self.exporter.run(self.stop), name="runwatch-exporter"),
        ]
        leasing = asyncio.create_task(self.leases.run(self.stop), name="runwatch-leases")
        server: _Server | None = None
        app = None
        if self.with_api:
            app = create_app(
                self.settings,
                redis=redis,
                store=self.store,
                registry=self.registry,
                render_metrics=self.exporter.render,
            )
            hub = app.state.live
            self.consumer.listeners.append(app.state.mlflow_writer.on_commit)  # wakes MLflow writes at commit
            exporter.websocket_clients_from(lambda: len(hub.clients))
            port = self.settings.port
        elif self.settings.metrics_port is not None:
            app = create_metrics_app(
                self.settings, redis=redis, store=self.store, registry=self.registry, render_metrics=exporter.render
            )
            port = self.settings.metrics_port
        if app is not None:
            server = _Server(http_config(app, self.settings, port=port))
            tasks.append(asyncio.create_task(server.serve(), name="runwatch-http"))
        if self.embedded is not None:
            tasks.append(asyncio.create_task(self._supervise_redis(), name="runwatch-redis"))
        try:
            await self.stop.wait()
        finally:
            await asyncio.to_thread(delivery.stop, self.worker.stop)
            if server is not None:
                server.should_exit = True
            leasing.cancel()  # a shard switch in progress must not wait for a consumer that is stopping
            await asyncio.gather(leasing, *tasks, return_exceptions=True)
            await self.leases.close()  # after the consumer stopped: the next owners take over at once
            live = getattr(getattr(app, "state", None), "live", None)
            if live is not None:
                await live.close()
            mlflow_writer = getattr(getattr(app, "state", None), "mlflow_writer", None)
            if mlflow_writer is not None:
                await mlflow_writer.close()
            await redis.aclose()
            self.store.close()
            if self.embedded is not None:
                self.embedded.stop()

    async def _serve_api_only(self, redis: aioredis.Redis) -> None:
        """``runwatch api``: REST, live websocket, dashboard and /metrics; reads the store, consumes nothing.

        Live pushes come from the hub's plain XREAD of the shard streams and the alerts stream,
        so every replica pushes the same points without talking to any collector.
        """
        self.store = self.store or open_store(self.settings, schema="require")
        self.exporter = Exporter(self.settings, registry=self.registry, consumer=None)
        app = create_app(
            self.settings, redis=redis, store=self.store, registry=self.registry, render_metrics=self.exporter.render
        )
        hub = app.state.live
        self.exporter.websocket_clients_from(lambda: len(hub.clients))
        server = _Server(http_config(app, self.settings, port=self.settings.port))
        tasks = [asyncio.create_task(server.serve(), name="runwatch-http")]
        try:
            await self.stop.wait()
        finally:
            server.should_exit = True
            await asyncio.gather(*tasks, return_exceptions=True)
            await hub.close()
            await redis.aclose()
            self.store.close()

    async def _apply_shards(self, shards: list[int]) -> None:
        """The leases changed: drain, reload the alert state the previous owners committed, read these shards."""
        assert self.consumer is not None and self.alerting is not None
        streams = [self.settings.keys.stream(shard) for shard in shards]
        await self.consumer.change_streams(streams, before_reading=self.alerting.reload)

    async def _detect_stalls(self) -> None:
        """The stall detector: at least every second, on the store's thread, in one collector only.

        The one holding the stall-sweep lease runs it. With other collectors alive, it first
        reloads the alert state (they commit the state of the runs they apply).
        """
        assert self.consumer is not None and self.alerting is not None and self.leases is not None
        while not self.stop.is_set():
            try:
                await asyncio.wait_for(self.stop.wait(), self.settings.stall_interval)
            except TimeoutError:
                pass
            if self.stop.is_set():
                return
            self.alerting.shared = len(self.leases.live) > 1
            if not self.leases.sweeping:
                continue
            try:
                if len(self.leases.live) > 1:
                    await self.consumer.run_in_store(self.alerting.reload)
                await self.consumer.run_in_store(self.alerting.tick, None, self.consumer.available_since)
            except Exception:
                logger.exception("stall detector failed; retrying")

    async def _send_digests(self) -> None:
        """The digest scheduler: every ``stall_interval``, on the store's thread (only when digests exist)."""
        assert self.consumer is not None and self.digests is not None
        while self.digests.ruleset.digests and not self.stop.is_set():
            try:
                await self.consumer.run_in_store(self.digests.tick)
            except Exception:
                logger.exception("digest scheduler failed; retrying")
            try:
                await asyncio.wait_for(self.stop.wait(), self.settings.stall_interval)
            except TimeoutError:
                pass

    async def _supervise_redis(self) -> None:
        assert self.embedded is not None
        while not self.stop.is_set():
            await asyncio.sleep(1.0)
            await asyncio.to_thread(self.embedded.check)
