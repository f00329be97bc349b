"""Reading Prometheus text the way a scraper does, for assertions."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.exporter import Exporter

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(exporter: Exporter) -> Samples:
    """What the service's /metrics handler serves: ``generate_latest`` of the registry."""
    return parse(generate_latest(exporter.registry).decode())


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def series(samples: Samples, name: str, **labels: str) -> list[dict[str, str]]:
    wanted = set(labels.items())
    return [dict(key) for (n, key) in samples if n == name and wanted <= key]
