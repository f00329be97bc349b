"""Alerts as a person reads them, in real Chromium: one row per episode, run names, relative times, badges, filters.

An alert's id is ``<rule>|<run>[|subject]#<episode>.<seq>``: a noisy rule records a transition per repeat,
and the page folds them into their episode (first fired, repeats and the last one, resolved).
"""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.sync_api import expect

from alerts import Transition

MINUTE = 60.0


def _t(rule: str, run_id: str, episode: int, seq: int, at: float, **fields: Any) -> Transition:
    base: dict[str, Any] = {
        "state": "firing",
        "kind": "nonfinite",
        "severity": "critical",
        "notify": (),
        "title": f"{rule} fired",
        "repeat": seq > 0,
    }
    base.update(fields)
    return Transition(rule=rule, run_id=run_id, episode=episode, seq=seq, at=at, **base)


def _seed(store: Any, fake_run: Any) -> tuple[Any, Any]:
    """resnet: loss-nan episode 1 (fired 10 min ago, 5 repeats, resolved 1 min ago) and episode 2 (firing);
    bert: a warning, firing. 9 transitions, 3 episodes."""
    now = time.time()
    resnet = fake_run("vision", name="resnet-nan")
    bert = fake_run("nlp", name="bert-slow")
    nan = {"metric": "loss", "value": float("nan"), "step": 300}
    transitions = [_t("loss-nan", resnet.id, 1, 0, now - 10 * MINUTE, **nan)]
    transitions += [_t("loss-nan", resnet.id, 1, seq, now - (10 - seq) * MINUTE, **nan) for seq in range(1, 6)]
    transitions.append(
        _t("loss-nan", resnet.id, 1, 6, now - 1 * MINUTE, state="resolved", title="loss is finite again")
    )
    transitions.append(_t("loss-nan", resnet.id, 2, 0, now - 0.5 * MINUTE, **nan))
    transitions.append(
        _t("slow", bert.id, 1, 0, now - 3 * MINUTE, kind="stalled", severity="warning", title="no progress")
    )
    store.alerts.transaction(lambda: store.alerts.record_transitions_in_tx(transitions))
    return resnet, bert


def _rows(page: Any) -> Any:
    return page.locator("#rule-alerts tr[data-episode]")


def test_the_alerts_page_shows_one_readable_row_per_episode(
    dashboard: Any, store: Any, fake_run: Any, page: Any
) -> None:
    resnet, bert = _seed(store, fake_run)
    page.goto(dashboard.url + "/#/alerts")
    expect(_rows(page)).to_have_count(3)  # 8 transitions of loss-nan fold into its 2 episodes
    table = page.text_content("#rule-alerts") or ""
    assert "null" not in table and "|" not in table and "{" not in table
    assert not re.search(r"\b1\d{9}\b", table)  # no Unix timestamps
    first = page.locator(f'#rule-alerts tr[data-episode="loss-nan|{resnet.id}#1"]')
    expect(first.locator("td.run a")).to_have_text("resnet-nan")
    assert first.locator("td.run a").get_attribute("href") == f"#/run/{resnet.id}"
    expect(first.locator('[data-role="severity"]')).to_have_text("critical")
    assert "sev-critical" in (first.locator('[data-role="severity"]').get_attribute("class") or "")
    expect(first.locator('[data-role="status"]')).to_have_text("resolved")
    expect(first.locator('[data-role="first"]')).to_have_text("10 min ago")
    full = first.locator('[data-role="first"] time').get_attribute("title") or ""
    assert re.search(r"\d{1,2}:\d{2}", full), full  # the full date and time on hover
    expect(first.locator("td:nth-child(6)")).to_have_text(re.compile(r"^5× last 5 min ago$"))
    expect(first.locator('[data-role="resolved"]')).to_have_text("1 min ago")
    expect(first.locator("td.what")).to_contain_text("loss = NaN at step 300")
    second = page.locator(f'#rule-alerts tr[data-episode="loss-nan|{resnet.id}#2"]')
    expect(second.locator('[data-role="status"]')).to_have_text("firing")
    expect(second.locator('[data-role="resolved"]')).to_have_text("–")
    warning = page.locator(f'#rule-alerts tr[data-episode="slow|{bert.id}#1"]')
    expect(warning.locator("td.run a")).to_have_text("bert-slow")
    assert "sev-warning" in (warning.locator('[data-role="severity"]').get_attribute("class") or "")
    assert page.problems == []


def test_the_alerts_page_filters_by_state_severity_and_run_and_keeps_them_in_the_url(
    dashboard: Any, store: Any, fake_run: Any, page: Any
) -> None:
    resnet, bert = _seed(store, fake_run)
    page.goto(dashboard.url + "/#/alerts")
    expect(_rows(page)).to_have_count(3)
    page.select_option("#alert-state", "firing")
    expect(_rows(page)).to_have_count(2)
    page.select_option("#alert-severity", "warning")
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).locator("td.run a")).to_have_text("bert-slow")
    page.select_option("#alert-severity", "")
    page.select_option("#alert-run", label="resnet-nan")
    expect(_rows(page)).to_have_count(1)
    assert _rows(page).get_attribute("data-episode") == f"loss-nan|{resnet.id}#2"
    assert "state=firing" in page.url and f"run={resnet.id}" in page.url
    page.reload()  # a filtered view can be shared: the URL holds the filters
    expect(_rows(page)).to_have_count(1)
    assert page.input_value("#alert-state") == "firing"
    page.select_option("#alert-state", "")
    page.select_option("#alert-run", "")
    expect(_rows(page)).to_have_count(3)
    assert page.problems == []


def test_a_run_page_shows_its_alerts_as_the_same_rows(dashboard: Any, store: Any, fake_run: Any, page: Any) -> None:
    resnet, _ = _seed(store, fake_run)
    resnet.emit("alert", {"title": "checkpoint failed", "text": "disk full", "level": "error"})
    page.goto(f"{dashboard.url}/#/run/{resnet.id}")
    rows = page.locator("#run-rule-alerts tr[data-episode]")
    expect(rows).to_have_count(2)
    panel = page.text_content("#run-alerts") or ""
    assert "{" not in panel and "null" not in panel and "|" not in panel
    expect(rows.first.locator('[data-role="status"]')).to_have_text("firing")  # the newest episode first
    expect(rows.nth(1).locator("td:nth-child(5)")).to_have_text("5× last 5 min ago")
    user = page.locator("#run-user-alerts tr")
    expect(user).to_have_count(1)
    expect(user.locator('[data-role="severity"]')).to_have_text("error")
    expect(user).to_contain_text("checkpoint failed")
    expect(user.locator("time")).to_have_text(re.compile(r"just now|\d+ s ago"))
    assert page.problems == []


def test_a_live_repeat_folds_into_its_episode_instead_of_adding_a_row(
    dashboard: Any, settings: Any, store: Any, fake_run: Any, page: Any
) -> None:
    import redis

    from collector.alert_stream import entry_fields

    resnet, _ = _seed(store, fake_run)
    page.goto(dashboard.url + "/#/alerts")
    expect(_rows(page)).to_have_count(3)
    from tests.helpers import wait_for

    wait_for(lambda: dashboard.app.state.live.clients, what="the alerts page subscribed")
    client = redis.Redis.from_url(settings.redis_url)
    try:
        repeat = _t("loss-nan", resnet.id, 2, 1, time.time(), metric="loss", value=float("nan"), step=400)
        fields: dict[Any, Any] = entry_fields(repeat)
        client.xadd(settings.keys.alerts, fields)
        current = page.locator(f'#rule-alerts tr[data-episode="loss-nan|{resnet.id}#2"]')
        expect(current.locator("td:nth-child(6)")).to_have_text(re.compile(r"^1× last (just now|\d+ s ago)$"))
        expect(_rows(page)).to_have_count(3)
        expect(current.locator("td.what")).to_contain_text("at step 400")
    finally:
        client.close()
    assert page.problems == []
