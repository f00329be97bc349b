"""System values in the service: the shipped rules parse and match them, a threshold rule fires, /metrics shows them."""

from __future__ import annotations

import re
from pathlib import Path

import emitter
from alerts import parse_rules
from tests.helpers import wait_for
from tests.integrations.stored import fired
from tests.prom import scrape, value

DOCS = Path(__file__).parents[2] / "docs" / "alerts.md"


def _shipped_rules() -> str:
    found = re.search(r"<!-- system-rules:[^>]*-->\s*```yaml\n(.*?)```", DOCS.read_text(), re.S)
    assert found, "docs/alerts.md lost its system-rules block"
    return found.group(1)


def test_the_documented_system_rules_parse_and_watch_the_names_the_sampler_sends():
    ruleset = parse_rules(_shipped_rules(), source="docs/alerts.md")
    watching = {
        name: [rule.name for rule in ruleset.rules_for_metric(name)]
        for name in (
            "system/gpu/0/utilization",
            "system/gpu/3/utilization",
            "system/memory/percent",
            "system/cgroup/memory_percent",
            "system/disk/used_percent",
            "system/cpu_percent",
        )
    }
    assert watching == {
        "system/gpu/0/utilization": ["gpu-idle"],
        "system/gpu/3/utilization": ["gpu-idle"],
        "system/memory/percent": ["host-memory-high"],
        "system/cgroup/memory_percent": ["container-memory-high"],
        "system/disk/used_percent": ["disk-nearly-full"],
        "system/cpu_percent": [],
    }
    gpu_idle = next(rule for rule in ruleset.rules if rule.name == "gpu-idle")
    assert gpu_idle.for_ == 60  # ten minutes of samples at the default 10 s interval


def test_a_threshold_rule_on_a_system_metric_fires_and_the_exporter_shows_the_value(
    emitter_env, service_factory, monkeypatch
):
    service = service_factory(
        "rules: [{name: resident, metric: system/proc/memory_rss_mb, condition: '> 1', severity: warning}]"
    )
    monkeypatch.setenv("RUNWATCH_SYSTEM_INTERVAL", "0.1")
    run = emitter.init("sysrules")
    run.log({"loss": 0.5}, step=7)
    try:
        alert = fired(service, run.id)[0]
        assert (alert.rule, alert.metric) == ("resident", "system/proc/memory_rss_mb")
        assert alert.step in (0, 7)  # the training step when the sample was taken (7 unless it came first)
        assert alert.value > 1
        exporter = service.service.exporter
        labels = {"project": "sysrules", "run_id": run.id, "run_name": run.name}
        shown = wait_for(
            lambda: value(scrape(exporter), "runwatch_run_metric", **labels, key="system/memory/percent"),
            what="system/memory/percent on /metrics",
        )
        assert 0 < shown < 100
    finally:
        run.finish()
