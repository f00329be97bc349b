"""The digest scheduler in the collector: each period's digest is sent once, whatever restarts or replicas.

A clock injected into the service decides when a digest is due; the runs are written
into the real store with the collector times they would have had.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner

from alerts import DeliveryStatus, parse_rules
from alerts.digest import Digest, Period
from collector.cli import main
from collector.digests import DigestScheduler
from emitter.events import Batch, Event
from tests.helpers import ThreadedService

DAY = 86_400.0


class Clock:
    """The service's notion of now, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def next_fire() -> float:
    """A scheduled minute a few minutes ahead: the runs written now fall in the period it ends."""
    return (int(time.time()) // 60 + 3) * 60.0


def write_run(
    store: Any, *, project: str, acc: float | None, now: float, status: str | None = None, **params: Any
) -> str:
    """A run written through the store's write path as the collector would have at time ``now``."""
    run_id = uuid.uuid4().hex[:12]
    writer = f"w-{uuid.uuid4().hex[:8]}"
    events = [
        Event(run_id, writer, 0, now, "run.start", {"project": project, "name": f"run-{run_id[:4]}", "config": params})
    ]
    if acc is not None:
        events.append(Event(run_id, writer, 1, now, "metrics", {"step": 1, "values": {"val/acc": acc}}))
    if status is not None:
        events.append(Event(run_id, writer, len(events), now, "status", {"status": status}))
    store.write([Batch(run_id, writer, events)], [], now)
    return run_id


def rules(fire: float, fake_slack: Any, smtp_sink: Any) -> str:
    at = datetime.fromtimestamp(fire, UTC).strftime("%H:%M")
    return f"""
channels:
  slack: {{type: slack, webhook_url: "{fake_slack.webhook_url}"}}
  mail:  {{type: email, smtp_url: "smtp://127.0.0.1:{smtp_sink.port}", from: rw@example.com, to: [ml@example.com]}}
rules:
  - {{name: failed, on: status, status: [failed], notify: []}}
digests:
  - {{name: nightly, schedule: "daily {at}", scope: "project = 'cifar'", metric: val/acc, mode: max,
      notify: [slack, mail]}}
"""


@pytest.fixture
def runs(store: Any) -> dict[str, str]:
    """A previous best from two days ago, then today's runs: two beat it, one does not, one failed."""
    fire = next_fire()
    return {
        "previous": write_run(store, project="cifar", acc=0.80, now=fire - 2 * DAY, lr=0.01, depth=18),
        "best": write_run(store, project="cifar", acc=0.86, now=time.time(), lr=0.003, depth=18),
        "second": write_run(store, project="cifar", acc=0.82, now=time.time(), lr=0.005, depth=18),
        "worse": write_run(store, project="cifar", acc=0.70, now=time.time(), lr=0.1, depth=18),
        "elsewhere": write_run(store, project="mnist", acc=0.99, now=time.time()),
        "failed": write_run(store, project="cifar", acc=None, now=time.time(), status="failed"),
    }


def start(settings: Any, text: str, clock: Clock, **overrides: Any) -> ThreadedService:
    return ThreadedService(settings.model_copy(update=overrides), parse_rules(text), clock=clock).start()


def digest_deliveries(store: Any) -> list[Any]:
    return sorted((d for d in store.alerts.deliveries() if d.id.startswith("digest:")), key=lambda d: d.id)


@pytest.mark.every_backend
def test_a_digest_is_sent_once_at_its_time_with_the_new_best_runs(settings, store, runs, fake_slack, smtp_sink) -> None:
    fire = next_fire()
    clock = Clock(fire - 5)
    service = start(settings, rules(fire, fake_slack, smtp_sink), clock)
    try:
        assert service.digest_check() == []  # not yet due
        service.drained()
        assert smtp_sink.received == [] and fake_slack.messages() == []

        clock.now = fire + 1
        service.digest_check()
        [mail] = smtp_sink.wait_for(1)
        [request] = fake_slack.wait_for(1, status=200)
        assert service.digest_check() == []  # the same period again: nothing new
        service.drained()
    finally:
        service.stop()

    assert len(smtp_sink.received) == 1 and len(fake_slack.messages()) == 1
    subject = mail.message["Subject"]
    assert subject.startswith("Digest nightly: new best val/acc 0.86 (run-") and subject.endswith("1 failed or lost")
    body = mail.message.get_body(("plain",)).get_content()
    link = f"{settings.dashboard_url}/runs/"
    best, second = body.index(link + runs["best"]), body.index(link + runs["second"])
    assert best < second < body.index("Previous best:")  # best first
    assert runs["previous"] in body.split("Previous best:")[1]
    assert runs["worse"] not in body and runs["elsewhere"] not in body  # does not beat it; out of scope
    assert "  lr: 0.01 -> 0.003" in body and "depth" not in body  # the params diff only
    assert body.split("Failed or lost:")[1].count(link + runs["failed"]) == 1
    html = mail.message.get_body(("html",)).get_content()
    assert f'href="{link}{runs["best"]}"' in html
    slack = str(request.json())
    assert runs["best"] in slack and runs["failed"] in slack and "Digest nightly" in slack
    assert [(d.channel, d.status) for d in digest_deliveries(store)] == [
        ("mail", DeliveryStatus.SENT),
        ("slack", DeliveryStatus.SENT),
    ]


def test_a_collector_restarted_around_the_scheduled_time_sends_it_once(
    settings, store, runs, fake_slack, smtp_sink
) -> None:
    fire = next_fire()
    clock = Clock(fire - 5)
    text = rules(fire, fake_slack, smtp_sink)
    before = start(settings, text, clock)
    assert before.digest_check() == []
    before.stop()

    clock.now = fire + 20  # down at the scheduled time, back 20 s later
    after = start(settings, text, clock)
    after.digest_check()
    smtp_sink.wait_for(1)
    fake_slack.wait_for(1, status=200)
    after.drained()
    after.stop()

    again = start(settings, text, clock)  # and restarted once more, in the same period
    assert again.digest_check() == []
    again.drained()
    again.stop()
    assert len(smtp_sink.received) == 1 and len(fake_slack.messages()) == 1
    assert all(d.status == DeliveryStatus.SENT and d.attempts == 1 for d in digest_deliveries(store))


def test_two_collectors_on_one_store_send_it_once(settings, store, runs, fake_slack, smtp_sink) -> None:
    fire = next_fire()
    clock = Clock(fire + 1)
    text = rules(fire, fake_slack, smtp_sink)
    one = start(settings, text, clock, consumer_name="collector-1")
    two = start(settings, text, clock, consumer_name="collector-2")
    try:
        inserted = one.digest_check() + two.digest_check()
        smtp_sink.wait_for(1)
        fake_slack.wait_for(1, status=200)
        one.drained()
        two.drained()
    finally:
        one.stop()
        two.stop()
    assert len(inserted) <= 2  # whichever inserted first; their background ticks may have come first
    assert len(smtp_sink.received) == 1 and len(fake_slack.messages()) == 1
    assert len(digest_deliveries(store)) == 2


def test_a_period_that_ended_long_before_the_collector_started_is_not_sent(settings, store, runs) -> None:
    fire = next_fire()
    ruleset = parse_rules(rules(fire, _Url("http://127.0.0.1:9/hook"), _Port(9)))
    clock = Clock(fire + 2 * 3600)  # catch_up defaults to 1h
    scheduler = DigestScheduler(ruleset, store.runs, store.alerts, clock=clock)
    assert scheduler.tick() == []
    assert digest_deliveries(store) == []
    assert scheduler.skipped == 1


def test_a_scope_the_runs_filter_cannot_parse_is_refused_when_the_file_loads(tmp_path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(
        "digests:\n  - {name: nightly, schedule: daily 08:00, metric: acc, mode: max, scope: 'project = '}\n"
    )
    result = CliRunner().invoke(main, ["rules", "check", str(path)])
    assert result.exit_code == 1
    assert "digest 'nightly': field 'scope': not a runs filter" in result.output


def test_digest_preview_prints_what_would_be_sent_now(settings, store, runs, tmp_path, monkeypatch) -> None:
    fire = next_fire()
    path = tmp_path / "alerts.yaml"
    path.write_text(rules(fire, _Url("http://127.0.0.1:9/hook"), _Port(9)))
    monkeypatch.setenv("RUNWATCH_HOME", str(settings.home))
    if settings.database_url:
        monkeypatch.setenv("RUNWATCH_DATABASE_URL", settings.database_url)
    result = CliRunner().invoke(main, ["digest", "preview", "nightly", "--alerts", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "would send to: slack, mail"
    assert lines[1].startswith("Digest nightly: new best val/acc 0.86")
    assert runs["best"] in result.output and runs["failed"] in result.output
    assert digest_deliveries(store) == []  # nothing sent, nothing recorded

    unknown = CliRunner().invoke(main, ["digest", "preview", "weekly", "--alerts", str(path)])
    assert unknown.exit_code == 1
    assert "no digest 'weekly'" in unknown.output and "(has: nightly)" in unknown.output


def test_the_new_best_are_measured_against_runs_quiet_before_the_period(store) -> None:
    now = time.time()
    write_run(store, project="p", acc=0.5, now=now - 3 * DAY)
    lower = write_run(store, project="p", acc=0.4, now=now - 10)
    digest = Digest(name="d", schedule="daily 08:00", metric="val/acc", mode="min")
    scheduler = DigestScheduler(parse_rules("{}"), store.runs, store.alerts)
    report = scheduler.report(digest, Period(now - DAY, now, "today"))
    assert [r.id for r in report.best] == [lower]  # mode min: lower is better


class _Url:
    def __init__(self, url: str) -> None:
        self.webhook_url = url


class _Port:
    def __init__(self, port: int) -> None:
        self.port = port
