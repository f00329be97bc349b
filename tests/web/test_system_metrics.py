"""A run's system metrics (kind ``system``: CPU, memory, GPU…) on its page: a section of their own, apart from training metrics."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.web.study import GroupedRun

SYSTEM = {
    "system/cpu_percent": 40.0,
    "system/memory_mb": 2048.0,
    "gpu0/util": 90.0,
}  # the last one by kind, not by name


def test_the_run_page_shows_system_metrics_in_their_own_collapsed_section(
    dashboard: Any, fake_run: Any, page: Any
) -> None:
    run = fake_run("vision", name="with-system")
    run.log_many([(step, {"loss": 1.0 / (step + 1), "acc": step / 10}) for step in range(10)])
    run.write(
        [("system", {"step": step, "values": {k: v + step for k, v in SYSTEM.items()}}, None) for step in range(5)]
    )
    page.goto(f"{dashboard.url}/#/run/{run.id}")

    training = page.locator("#charts .chart")
    expect(training).to_have_count(2)
    assert sorted(c.get_attribute("data-key") for c in training.all()) == ["acc", "loss"]
    expect(page.locator("#charts .chart").first).to_have_attribute("data-state", "drawn")
    section = page.locator("details#system-metrics")
    expect(section).to_be_attached()
    assert section.get_attribute("open") is None  # collapsed by default
    expect(section.locator("summary")).to_contain_text("System metrics")
    expect(section.locator("summary")).to_contain_text("3 keys")
    charts = section.locator(".chart")
    expect(charts).to_have_count(3)
    assert sorted(c.get_attribute("data-key") for c in charts.all()) == sorted(SYSTEM)
    expect(charts.first).to_have_attribute("data-state", "waiting")  # nothing read while it is closed

    section.locator("summary").click()
    for key in SYSTEM:
        chart = section.locator(f'.chart[data-key="{key}"]')
        expect(chart).to_have_attribute("data-state", "drawn")
        expect(chart).to_have_attribute("data-points", "5")
    page.fill("#metric-filter", "memory")  # the filter box narrows both sections
    expect(page.locator(".chart:visible")).to_have_count(1)
    expect(section.locator('.chart[data-key="system/memory_mb"]')).to_be_visible()
    assert page.problems == []


def test_a_run_without_system_metrics_shows_no_such_section_and_links_to_its_group(
    dashboard: Any, store: Any, page: Any
) -> None:
    run = GroupedRun(store, "vision", group="sweep-3", name="plain")
    run.log({"loss": 0.5}, step=1)
    page.goto(f"{dashboard.url}/#/run/{run.id}")
    expect(page.locator('#charts .chart[data-key="loss"]')).to_be_visible()
    expect(page.locator("#system-metrics")).to_be_hidden()
    expect(page.locator("a.group-link")).to_have_text("sweep-3")
    expect(page.locator("a.group-link")).to_have_attribute("href", "#/group/sweep-3?project=vision")
    assert page.problems == []
