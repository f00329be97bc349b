"""What the exporter emits, what rules record, and which series a PromQL expression names."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.consumer import CommitReport
from collector.exporter import Exporter, StreamStats
from collector.settings import Settings
from collector.store.base import WriteResult
from emitter.events import GROUP, Event
from tests.helpers import ROOT

DEPLOY = ROOT / "deploy"
# Series Prometheus makes itself for every target; dashboards may use them too.
PROMETHEUS_SERIES: dict[str, set[str]] = {
    "up": set(),
    "scrape_duration_seconds": set(),
    "scrape_samples_scraped": set(),
}
TARGET_LABELS = {"job", "instance"}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")
_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")
_KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "inf",
    "nan",
    "Inf",
    "NaN",
    "atan2",
}


def emitted_series() -> dict[str, set[str]]:
    """Every sample name the exporter can put on /metrics, with its label names."""
    settings = Settings(prefix="rwtest-series", shards=2)
    consumer = SimpleNamespace(
        streams=settings.keys.streams(2),
        redis=None,
        redis_available=True,
        consumed=1,
        acked=1,
        dead=1,
        reclaimed=1,
        commits=1,
        trimmed=1,
        failures=1,
    )
    exporter = Exporter(settings, registry=CollectorRegistry(), consumer=consumer)
    events = [
        Event("r1", "w", 0, 0.0, "run.start", {"project": "p", "name": "n"}),
        Event("r1", "w", 1, 0.0, "status", {"status": "running"}),
        Event("r1", "w", 2, 0.0, "metrics", {"step": 1, "values": {"loss": 1.0}}),
        Event("r1", "w", 3, 0.0, "heartbeat", {"spilled": 1, "replayed": 1}),
    ]
    exporter.on_commit(CommitReport(WriteResult(applied=events, duplicates=1, points=1), 1, 0.01))
    exporter.alert_fired("rule", "warning")
    exporter.notification_attempt("slack", delivered=True)
    exporter.notification_attempt("slack", delivered=False)
    exporter.stream_stats = [StreamStats(consumer.streams[0], 3, [(GROUP, 1.0, 2, 5.0)])]
    exporter.stats_taken_at = 1.0
    series: dict[str, set[str]] = {}
    text = generate_latest(exporter.registry).decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return series


def recorded_series(path: Path = DEPLOY / "prometheus" / "rules.yml") -> set[str]:
    rules = yaml.safe_load(path.read_text())
    return {rule["record"] for group in rules["groups"] for rule in group["rules"] if "record" in rule}


def rule_expressions(path: Path = DEPLOY / "prometheus" / "rules.yml") -> list[str]:
    rules = yaml.safe_load(path.read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def series_names(expr: str) -> set[str]:
    """Series names an expression selects (functions, keywords and label names left out)."""
    text = _STRING.sub('""', expr)
    text = _GRAFANA_VARIABLE.sub("", text)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = _GROUPING.sub("", text)
    names = set()
    for name, call in _IDENTIFIER.findall(text):
        if call or name in _KEYWORDS or re.fullmatch(r"[0-9]", name[:1]):
            continue
        names.add(name)
    return names


def selector_labels(expr: str) -> list[tuple[str, set[str]]]:
    """``(series, label names matched on it)`` for each ``name{...}`` selector."""
    text = _STRING.sub('""', expr)
    return [(name, set(_MATCHER.findall(body))) for name, body in _SELECTOR.findall(text)]


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression of a dashboard: panel targets (rows too) and variable queries."""
    queries: list[str] = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            queries.extend(t["expr"] for t in panel.get("targets", []) if t.get("expr"))
            walk(panel.get("panels", []))

    walk(dashboard.get("panels", []))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            queries.append(query["query"] if isinstance(query, dict) else query)
    return queries
