"""The Grafana dashboards parse and ask only for series runwatch (or its rules) produces."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.deploy._series import (
    DEPLOY,
    PROMETHEUS_SERIES,
    TARGET_LABELS,
    dashboard_queries,
    emitted_series,
    recorded_series,
    rule_expressions,
    selector_labels,
    series_names,
)

DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$", re.S)


@pytest.fixture(scope="module")
def emitted() -> dict[str, set[str]]:
    return emitted_series()


def known(emitted: dict[str, set[str]]) -> dict[str, set[str] | None]:
    names: dict[str, set[str] | None] = {name: labels | TARGET_LABELS for name, labels in emitted.items()}
    names.update({name: labels | TARGET_LABELS for name, labels in PROMETHEUS_SERIES.items()})
    names.update(dict.fromkeys(recorded_series()))  # recorded: labels vary, not checked
    return names


def check_query(query: str, names: dict[str, set[str] | None]) -> list[str]:
    problems = []
    wanted_label = None
    match = LABEL_VALUES.match(query)
    if match:
        query, wanted_label = match.group(1), match.group(2)
    used = series_names(query)
    if not any(name.startswith("runwatch") for name in used) and not used & set(PROMETHEUS_SERIES):
        problems.append(f"{query!r} selects no runwatch series")
    for name in used - set(names):
        problems.append(f"{query!r} uses {name}, which nothing emits")
    for name, labels in selector_labels(query):
        allowed = names.get(name)
        if allowed is not None and labels - allowed:
            problems.append(f"{query!r} matches {name} on labels it lacks: {sorted(labels - allowed)}")
    if wanted_label:
        for name in used:
            allowed = names.get(name)
            if allowed is not None and wanted_label not in allowed:
                problems.append(f"{query!r} asks for label {wanted_label} that {name} lacks")
    return problems


def test_the_two_dashboards_are_there_and_are_grafana_dashboard_json():
    titles = {}
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"] and dashboard["schemaVersion"] >= 36 and dashboard["panels"], path.name
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in dashboard["panels"]:
            assert set(panel["gridPos"]) == {"x", "y", "w", "h"} and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
            for target in panel.get("targets", []):
                assert target["datasource"]["uid"] == "${datasource}", f"{path.name}: {panel['title']}"
        titles[dashboard["title"]] = dashboard
    assert set(titles) == {"runwatch / Training runs", "runwatch / Service"}
    training = titles["runwatch / Training runs"]
    variables = {v["name"] for v in training["templating"]["list"]}
    assert {"project", "run", "key"} <= variables
    assert any(p.get("repeat") == "key" for p in training["panels"]), "one chart per metric key"
    assert any(p["type"] == "table" for p in training["panels"]), "a status table"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_queries_use_only_emitted_series_and_their_labels(path, emitted):
    queries = dashboard_queries(json.loads(path.read_text()))
    assert len(queries) >= 8
    problems = [problem for query in queries for problem in check_query(query, known(emitted))]
    assert not problems, "\n".join(problems)


def test_prometheus_rules_use_only_emitted_series(emitted):
    names = known(emitted)
    problems = [problem for expr in rule_expressions() for problem in check_query(expr, names)]
    assert not problems, "\n".join(problems)


def test_the_checker_catches_a_misspelt_series_and_label(emitted):
    names = known(emitted)
    assert check_query('rate(runwatch_events_ingest_total{shard="0"}[5m])', names)
    assert check_query('runwatch_run_metric{projct="x"}', names)
    assert check_query("label_values(runwatch_run_step, key)", names)
    assert not check_query('sum by (key) (runwatch_run_metric{project=~"$project", key="$key"})', names)


def test_provisioning_points_at_the_dashboards_and_a_prometheus_datasource():
    provisioning = DEPLOY / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    assert [d["type"] for d in datasources["datasources"]] == ["prometheus"]
    providers = yaml.safe_load((provisioning / "dashboards" / "runwatch.yml").read_text())["providers"]
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{providers[0]['options']['path']}:ro" in mounts
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in mounts
