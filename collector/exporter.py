"""Prometheus exporter (placeholder until the Prometheus work fills it in)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry

from .settings import Settings


class Exporter:
    """Registers runwatch's metric families on an injected registry."""

    def __init__(
        self,
        settings: Settings,
        *,
        registry: CollectorRegistry,
        consumer: Any,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.consumer = consumer
        self.clock = clock

    def on_commit(self, report: Any) -> None:
        """Consumer listener: called after every commit."""
