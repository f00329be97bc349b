"""The dashboard in real headless Chromium: runs table, live charts, escaping, CSP."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

import emitter
from collector.api.app import create_app
from tests.api.server import ServerThread
from tests.helpers import wait_for

XSS = "<img src=x onerror=alert(1)>"


def _serve(settings: Any, store: Any) -> ServerThread:
    return ServerThread(create_app(settings, redis=aioredis.from_url(settings.redis_url), store=store)).start()


def _points(page: Any, key: str) -> int:
    value = page.get_attribute(f'.chart[data-key="{key}"]', "data-points")
    return int(value or 0)


def test_runs_table_then_a_run_whose_chart_grows_live_without_reload(
    emitter_env: Any, settings: Any, store: Any, collector: Any, page: Any, tmp_path: Path
) -> None:
    run = emitter.init("vision", name="resnet-live", config={"lr": 0.01}, tags=["baseline"])
    for step in range(50):
        run.log({"loss": 1.0 / (step + 1), "acc": step / 100}, step=step)
    run.flush(10)
    wait_for(lambda: store.series.count_points(run.id) == 100, what="first points stored")
    server = _serve(settings, store)
    stop = threading.Event()
    try:
        page.goto(server.url + "/")
        page.wait_for_selector(f'tr[data-run="{run.id}"]')
        assert page.text_content(f'tr[data-run="{run.id}"] td.name') == "resnet-live"
        assert "baseline" in page.text_content(f'tr[data-run="{run.id}"]')

        page.click(f'tr[data-run="{run.id}"] td.name a')
        page.wait_for_selector('.chart[data-key="loss"] canvas')
        page.evaluate("window.RUNWATCH_TEST.sameDocument = true")
        first = _points(page, "loss")
        assert first == 50

        def keep_logging() -> None:
            step = 50
            while not stop.is_set():
                run.log({"loss": 1.0 / (step + 1), "acc": step / 100}, step=step)
                step += 1
                stop.wait(0.02)

        logger = threading.Thread(target=keep_logging, daemon=True)
        logger.start()
        wait_for(lambda: _points(page, "loss") >= first + 20, timeout=20, what="live points on the chart")
        assert page.evaluate("window.RUNWATCH_TEST.sameDocument") is True  # grown in place: no reload
        assert page.text_content("#live-state") == "live"
        stop.set()
        logger.join()
        page.screenshot(path=str(tmp_path / "run-page.png"), full_page=True)
        assert (tmp_path / "run-page.png").stat().st_size > 10_000
        assert page.problems == []  # no script errors, no CSP violations
    finally:
        stop.set()
        run.finish()
        server.stop()


def test_a_run_named_with_html_renders_as_text_and_runs_no_script(
    emitter_env: Any, settings: Any, store: Any, collector: Any, page: Any, tmp_path: Path
) -> None:
    run = emitter.init("xss", name=XSS, config={XSS: XSS}, tags=[XSS], notes=XSS)
    run.log({XSS: 1.0, "loss": 2.0}, step=1)
    run.note(XSS)
    run.alert(XSS, XSS)
    run.finish()
    wait_for(lambda: (r := store.runs.get(run.id)) is not None and r.status == "finished", what="run stored")
    server = _serve(settings, store)
    try:
        page.goto(server.url + "/")
        cell = page.wait_for_selector(f'tr[data-run="{run.id}"] td.name')
        assert cell.text_content() == XSS
        assert page.query_selector_all("#runs-table img") == []

        page.click(f'tr[data-run="{run.id}"] td.name a')
        page.wait_for_selector("#run-name")
        assert page.text_content("#run-name") == XSS
        page.wait_for_selector(".chart h3")
        assert page.query_selector_all("main img") == []
        assert XSS in page.text_content("#params")
        assert XSS in page.text_content("#notes")
        page.goto(server.url + "/#/alerts")
        page.wait_for_selector("#user-alerts tr")
        assert XSS in page.text_content("#user-alerts")
        assert page.query_selector_all("main img") == []
        page.wait_for_timeout(300)  # give an onerror handler every chance to fire
        assert page.dialogs == []
        page.screenshot(path=str(tmp_path / "xss.png"))
    finally:
        server.stop()


def test_compare_page_overlays_runs_and_marks_differing_params(
    emitter_env: Any, settings: Any, store: Any, collector: Any, page: Any
) -> None:
    a = emitter.init("cmp", name="run-a", config={"lr": 0.1, "batch": 64})
    b = emitter.init("cmp", name="run-b", config={"lr": 0.01, "batch": 64})
    for step in range(20):
        a.log({"loss": 1.0 / (step + 1)}, step=step)
        b.log({"loss": 2.0 / (step + 1)}, step=step)
    a.finish()
    b.finish()
    wait_for(
        lambda: store.series.count_points(a.id) == 20 and store.series.count_points(b.id) == 20, what="both runs stored"
    )
    server = _serve(settings, store)
    try:
        page.goto(f"{server.url}/#/compare?runs={a.id},{b.id}")
        page.wait_for_selector("#compare-params tbody tr")
        differing = page.locator("#compare-params tr.differs td:first-child").all_text_contents()
        assert differing == ["lr"]
        page.wait_for_selector('.chart[data-key="loss"] canvas')
        assert page.problems == []
    finally:
        server.stop()


def test_the_alerts_page_shows_a_rule_alert_the_moment_the_collector_publishes_it(
    settings: Any, store: Any, page: Any
) -> None:
    import time

    import redis

    from alerts import Transition
    from collector.alert_stream import entry_fields

    server = _serve(settings, store)
    client = redis.Redis.from_url(settings.redis_url)
    try:
        page.goto(server.url + "/#/alerts")
        page.wait_for_selector("#rule-alerts", state="attached")  # an empty table body is not "visible"
        wait_for(lambda: server.app.state.live.clients, what="the alerts page subscribed")
        alert = Transition(
            rule="loss-nan",
            run_id="run-xyz",
            state="firing",
            kind="nonfinite",
            episode=1,
            seq=0,
            at=time.time(),
            severity="critical",
            notify=(),
            title=XSS,
            metric="loss",
            value=float("nan"),
            step=3,
        )
        # redis-py's stubs want dict[EncodableT, EncodableT]; dict is invariant, so bytes keys need widening
        fields: dict[Any, Any] = entry_fields(alert)
        client.xadd(settings.keys.alerts, fields)
        row = page.wait_for_selector("#rule-alerts tr[data-episode]")
        assert "loss-nan" in row.text_content() and XSS in row.text_content()
        assert page.query_selector_all("main img") == []
    finally:
        client.close()
        server.stop()
