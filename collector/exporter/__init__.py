"""Prometheus exporter: the service's own health, and the latest values of active runs.

- ``exporter`` — ``Exporter``: every family on one injected ``CollectorRegistry``, fed by the
  consumer's commits, refreshed from Redis off the scrape path, rendered fast for /metrics;
  ``ConsumerView``, what it reads of the consumer;
- ``tracker`` — ``RunTracker``: active runs' latest values, bounded in time and in series;
  ``KeyFilter``, the allow/deny globs on metric keys;
- ``streams`` — ``StreamStats``: lag / pending per stream, read from Redis.

>>> exporter = Exporter(settings, registry=registry, consumer=consumer)
>>> consumer.listeners.append(exporter.on_commit)
"""

from __future__ import annotations

from .exporter import ConsumerView, Exporter
from .streams import StreamStats
from .tracker import KeyFilter, RunTracker

__all__ = ["ConsumerView", "Exporter", "KeyFilter", "RunTracker", "StreamStats"]
