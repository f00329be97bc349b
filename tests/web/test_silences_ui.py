"""Silences on the alerts page, in real headless Chromium, signed in with a token as a user would be.

Auth is on in these tests, so the dashboard's writes go the way they do in production: the
HttpOnly session cookie plus the ``X-Requested-With`` header the API demands of cookie writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis
from playwright.sync_api import expect

from collector.api.app import create_app
from tests.api.server import ServerThread

XSS = "<img src=x onerror=alert(1)>"
REFRESH_MS = 200  # the silences list's refresh interval in these tests (15 s in production)
FORM = {
    "rule": "#silence-rule",
    "run_id": "#silence-run",
    "project": "#silence-project",
    "starts": "#silence-starts",
    "duration": "#silence-duration",
    "comment": "#silence-comment",
}


@pytest.fixture
def sign_in(settings: Any, store: Any, page: Any) -> Iterator[Callable[[str], Any]]:
    """``sign_in(role)``: the alerts page, opened through the sign-in form with a new token of that role."""
    app = create_app(
        settings.model_copy(update={"auth": True}), redis=aioredis.from_url(settings.redis_url), store=store
    )
    server = ServerThread(app).start()

    def open_as(role: str) -> Any:
        _, token = store.tokens.create(role, f"{role}-token", time.time())
        page.goto(server.url + "/#/alerts")
        page.fill("#token", token)
        page.click("form.login button")
        page.wait_for_selector("#silence-form")
        return page

    yield open_as
    server.stop()


def _fill(page: Any, **values: str) -> None:
    for name, value in values.items():
        page.fill(FORM[name], value)
    page.click("#silence-form button")


def _form(page: Any) -> dict[str, str]:
    return {name: page.input_value(selector) for name, selector in FORM.items()}


def _silence(store: Any, **matchers: str | None) -> int:
    now = time.time()
    fields = {"rule": None, "run_id": None, "project": None, **matchers}
    return store.silences.create(**fields, starts_at=now, ends_at=now + 3600, comment="", created_by="cli", now=now)


def _refresh_quickly(page: Any) -> None:
    """Before the page loads: reload the silences list every REFRESH_MS instead of every 15 s."""
    page.add_init_script(f"window.RUNWATCH_TEST = {{ silencesRefreshMs: {REFRESH_MS} }}")  # see js/testhooks.js


def _state(page: Any, silence_id: int) -> Any:
    return page.locator(f'#silences tr[data-silence="{silence_id}"] td:nth-child(2)')


def _script_errors(page: Any) -> list[str]:
    """Console and page errors, less Chromium's own line for each refused request (which the tests cause)."""
    return [p for p in page.problems if "Failed to load resource" not in p]


def test_an_admin_adds_a_silence_through_the_form_and_it_is_listed_and_stored(sign_in: Any, store: Any) -> None:
    page = sign_in("admin")
    expect(page.locator("#silences")).to_contain_text("No active or scheduled silences")
    _fill(page, rule="loss-nan", project="cifar", duration="2h", comment=XSS)

    row = page.locator("#silences tr[data-silence]")
    expect(row).to_have_count(1)
    [stored] = store.silences.list(time.time())
    assert (stored["rule"], stored["run_id"], stored["project"], stored["comment"]) == ("loss-nan", None, "cifar", XSS)
    assert stored["ends_at"] - stored["starts_at"] == 2 * 3600
    assert abs(stored["starts_at"] - time.time()) < 30  # "starts" left empty: now
    assert stored["created_by"] == "admin-token"
    assert row.get_attribute("data-silence") == str(stored["id"])
    cells = row.locator("td").all_text_contents()
    assert cells[1:5] == ["active", "loss-nan", "any", "cifar"]
    assert cells[7:9] == [XSS, "admin-token"]  # the comment is text, never markup
    assert page.query_selector_all("main img") == []
    assert _form(page) == dict.fromkeys(FORM, "")  # cleared for the next one
    assert page.text_content("#silence-error") == ""
    assert page.dialogs == [] and _script_errors(page) == []


def test_end_takes_a_silence_off_the_active_list_with_one_click(sign_in: Any, store: Any) -> None:
    ending = _silence(store, rule="loss-nan")
    staying = _silence(store, run_id="run-42")
    page = sign_in("admin")
    expect(page.locator("#silences tr[data-silence]")).to_have_count(2)

    page.click(f'#silences tr[data-silence="{ending}"] button')
    expect(page.locator(f'#silences tr[data-silence="{ending}"]')).to_have_count(0)
    expect(page.locator(f'#silences tr[data-silence="{staying}"]')).to_have_count(1)
    assert [s["id"] for s in store.silences.list(time.time())] == [staying]
    [ended] = [s for s in store.silences.list(time.time(), include_ended=True) if s["id"] == ending]
    assert ended["expired_at"] is not None
    assert page.text_content("#silence-error") == ""
    assert _script_errors(page) == []


def test_a_refused_form_shows_the_apis_reason_keeps_what_was_typed_and_creates_nothing(
    sign_in: Any, store: Any
) -> None:
    page = sign_in("admin")
    error = page.locator("#silence-error")

    _fill(page, duration="30m", comment="no matcher given")
    expect(error).to_contain_text("give at least one of rule, run_id, project")
    assert _form(page) == {
        "rule": "",
        "run_id": "",
        "project": "",
        "starts": "",
        "duration": "30m",
        "comment": "no matcher given",
    }

    _fill(page, rule="loss-nan", duration="soon")
    expect(error).to_contain_text("duration: Input should be a valid number")
    assert _form(page)["rule"] == "loss-nan" and _form(page)["duration"] == "soon"

    _fill(page, duration="91d")
    expect(error).to_contain_text("duration: Input should be less than or equal to")

    for start in ("tomorrow", "2031-02-30 10:00"):  # not an offset, not a date that exists: the API's reason
        _fill(page, starts=start, duration="1h")
        expect(error).to_have_text("starts_at: Input should be a valid number, unable to parse string as a number")
        assert _form(page) == {
            "rule": "loss-nan",
            "run_id": "",
            "project": "",
            "starts": start,
            "duration": "1h",
            "comment": "no matcher given",
        }

    assert store.silences.list(time.time(), include_ended=True) == []
    expect(page.locator("#silences tr[data-silence]")).to_have_count(0)
    assert _script_errors(page) == []


def test_a_viewer_sees_silences_but_adding_or_ending_one_is_refused_with_the_reason(sign_in: Any, store: Any) -> None:
    existing = _silence(store, project="cifar")
    page = sign_in("viewer")
    row = page.locator(f'#silences tr[data-silence="{existing}"]')
    expect(row).to_have_count(1)
    error = page.locator("#silence-error")

    _fill(page, rule="loss-nan", duration="1h", comment="from a viewer")
    expect(error).to_have_text("this needs the admin role; the token has viewer")
    assert _form(page) == {
        "rule": "loss-nan",
        "run_id": "",
        "project": "",
        "starts": "",
        "duration": "1h",
        "comment": "from a viewer",
    }

    with page.expect_response(lambda response: response.request.method == "DELETE"):  # the same reason again
        row.locator("button").click()
    expect(error).to_have_text("this needs the admin role; the token has viewer")
    expect(row).to_have_count(1)
    assert [s["id"] for s in store.silences.list(time.time())] == [existing]
    assert _script_errors(page) == []


def test_an_admin_adds_silences_that_start_later_and_they_are_listed_as_scheduled_with_their_start(
    sign_in: Any, store: Any, page: Any
) -> None:
    # A time zone far from UTC, so a date-time read as UTC instead of local would be 5.5 hours off.
    page.context.new_cdp_session(page).send("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Kolkata"})
    page = sign_in("admin")
    assert page.evaluate("new Date(2031, 0, 2).getTimezoneOffset()") == -330  # UTC+05:30 in the page
    rows = page.locator("#silences tr[data-silence]")

    before = time.time()
    _fill(page, rule="loss-nan", starts="in 30m", duration="1h", comment="after the deploy")
    expect(rows).to_have_count(1)
    after = time.time()
    [relative] = store.silences.list(time.time())
    assert before + 1800 - 1 <= relative["starts_at"] <= after + 1800 + 1  # the browser's clock, ms resolution
    assert relative["ends_at"] - relative["starts_at"] == pytest.approx(3600)
    assert (relative["rule"], relative["comment"]) == ("loss-nan", "after the deploy")
    expect(_state(page, relative["id"])).to_have_text("scheduled")
    assert _form(page) == dict.fromkeys(FORM, "")

    kolkata = ZoneInfo("Asia/Kolkata")
    typed_as = {"2031-01-02 03:04": (2, 4), "2031-01-03T03:05": (3, 5)}  # with a T: what datetime-local gives
    for count, (typed, (day, minute)) in enumerate(typed_as.items(), start=2):
        _fill(page, project="cifar", starts=typed, duration="2h")
        expect(rows).to_have_count(count)
        stored = store.silences.list(time.time())[0]  # newest first
        assert stored["starts_at"] == datetime(2031, 1, day, 3, minute, tzinfo=kolkata).timestamp()
        assert stored["ends_at"] == stored["starts_at"] + 2 * 3600
        expect(_state(page, stored["id"])).to_have_text("scheduled")
    assert not any(s["active"] for s in store.silences.list(time.time()))
    assert page.text_content("#silence-error") == ""
    assert _script_errors(page) == []


def test_a_scheduled_silence_turns_active_then_leaves_the_list_while_the_page_stays_open(
    sign_in: Any, store: Any, page: Any
) -> None:
    _refresh_quickly(page)
    page = sign_in("admin")
    page.evaluate("window.RUNWATCH_TEST.sameDocument = true")
    now = time.time()
    silence_id = store.silences.create(rule="loss-nan", run_id=None, project=None, starts_at=now + 2.5, ends_at=now + 5,
        comment="short", created_by="cli", now=now,
    )  # fmt: skip

    expect(_state(page, silence_id)).to_have_text("scheduled", timeout=2000)  # a silence added elsewhere shows up
    expect(_state(page, silence_id)).to_have_text("active", timeout=10_000)
    expect(page.locator(f'#silences tr[data-silence="{silence_id}"]')).to_have_count(0, timeout=10_000)  # over
    expect(page.locator("#silences")).to_contain_text("No active or scheduled silences")
    assert page.evaluate("window.RUNWATCH_TEST.sameDocument") is True  # refreshed in place, not reloaded
    assert page.text_content("#silence-error") == ""
    assert _script_errors(page) == []


def test_the_list_stops_refreshing_once_the_user_leaves_the_alerts_page(sign_in: Any, page: Any) -> None:
    _refresh_quickly(page)
    page = sign_in("admin")
    loads: list[float] = []

    def count_list_load(request: Any) -> None:
        if request.method == "GET" and urlsplit(request.url).path == "/api/v1/silences":
            loads.append(time.monotonic())

    page.on("request", count_list_load)
    page.wait_for_timeout(REFRESH_MS * 6)
    assert len(loads) >= 3  # it does refresh while the page is shown

    for _ in range(2):  # there and back twice: neither visit's timer may outlive it
        page.click('nav a[data-nav="runs"]')
        page.wait_for_selector("#runs-table")
        page.click('nav a[data-nav="alerts"]')
        page.wait_for_selector("#silence-form")
    page.click('nav a[data-nav="runs"]')
    page.wait_for_selector("#runs-table")
    page.wait_for_timeout(REFRESH_MS * 2)  # a load already on its way may still arrive
    settled = len(loads)
    page.wait_for_timeout(REFRESH_MS * 10)
    assert len(loads) == settled, f"{len(loads) - settled} silences requests after leaving the alerts page"
    assert _script_errors(page) == []
