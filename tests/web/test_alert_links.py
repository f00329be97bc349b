"""The link every delivered alert carries (Slack's "Open run", email, webhook ``link``, console) opens the run's page.

Notifiers build it as ``<public_url>/runs/<run id>`` (``alerts.notifiers.base.AlertMessage.link``); the
dashboard's own pages are hash routes, so the server answers that real path with the dashboard and its
router turns it into ``#/run/<id>``.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import expect

from alerts import Transition
from alerts.notifiers.base import AlertMessage
from collector.api.web import CSP


def _transition(run_id: str) -> Transition:
    return Transition(
        rule="loss-nan",
        run_id=run_id,
        state="firing",
        kind="nonfinite",
        episode=1,
        seq=0,
        at=time.time(),
        severity="critical",
        notify=("ops",),
        title="loss is NaN",
    )


def test_the_run_path_of_an_alert_link_serves_the_dashboard(dashboard: Any, fake_run: Any) -> None:
    run = fake_run("vision", name="resnet-7")
    for path in (f"/runs/{run.id}", f"/runs/{quote('a b/c', safe='')}", "/runs/a/b", "/runs"):
        response = httpx.get(dashboard.url + path, timeout=30)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html"), path
        assert '<script type="module" src="/static/app.js">' in response.text
        assert response.headers["content-security-policy"] == CSP  # the same strict policy as "/"
    assert httpx.get(dashboard.url + "/nowhere", timeout=30).status_code == 404


@pytest.mark.parametrize("run_id", ["plainid0123", "run with spaces & ünïcode"])
def test_the_link_a_notifier_builds_opens_that_runs_page_in_the_browser(
    dashboard: Any, fake_run: Any, page: Any, run_id: str
) -> None:
    run = fake_run("vision", name=f"named-{run_id}", run_id=run_id)
    run.log({"loss": 0.5}, step=1)
    link = AlertMessage.from_transition(_transition(run.id), public_url=dashboard.url + "/").link
    assert link is not None and link.startswith(dashboard.url + "/runs/")
    page.goto(link)
    expect(page.locator("#run-name")).to_have_text(f"named-{run_id}")
    expect(page.locator('.chart[data-key="loss"]')).to_be_visible()
    assert page.url.startswith(f"{dashboard.url}/#/run/")  # rewritten in place to the hash route
    page.click("nav a[data-nav=runs]")  # the page now lives at "/", so the hash links work from here
    expect(page.locator(f'tr[data-run="{run.id}"] td.name')).to_have_text(f"named-{run_id}")
    page.go_back()
    expect(page.locator("#run-name")).to_have_text(f"named-{run_id}")
    assert page.problems == []


def test_an_old_hash_link_to_a_run_still_opens_it(dashboard: Any, fake_run: Any, page: Any) -> None:
    run = fake_run("vision", name="hash-linked")
    page.goto(f"{dashboard.url}/#/run/{run.id}")
    expect(page.locator("#run-name")).to_have_text("hash-linked")
    assert page.problems == []
