"""Alerts end to end: from run.log() through Redis and the collector to Slack and email.

"Exactly once" is checked once nothing more can be sent, never after a pause: every
event of the run is stored, no delivery is pending, and the delivery worker has drained
(nothing due, nothing in flight). Whatever a duplicate would be, it is visible by then.
"""

from __future__ import annotations

import math
import os
import signal
import time
from typing import cast

import pytest
import redis

import emitter
from alerts import DeliveryStatus, parse_rules
from alerts.outbox import Delivery
from collector.alert_stream import decode_fields
from collector.alerting import load_ruleset
from collector.store import open_store
from emitter.events import GROUP
from tests.alerts.fake_slack import Reply
from tests.helpers import CollectorProcess, RedisServer, ThreadedService, spawn_python, wait_for
from tests.prom import scrape, value

pytestmark = pytest.mark.every_backend

SENT = DeliveryStatus.SENT


def settled(service: ThreadedService, run_id: str) -> list[Delivery]:
    """Every delivery once nothing more can be sent for the run: what was sent so far is all there is.

    The run's last event is stored (so every alert it raises is committed with its
    deliveries), none of them is pending, and the worker has nothing due or in flight.
    """
    wait_for(lambda: (r := service.store.runs.get(run_id)) and r.status == "finished", what="the run's last event")
    wait_for(lambda: service.store.alerts.deliveries("pending") == [], what="no delivery pending")
    service.drained()
    return list(service.store.alerts.deliveries())


def _rules_for(fake_slack, smtp_sink) -> str:
    return f"""
channels:
  hook:  {{type: slack, webhook_url: "{fake_slack.webhook_url}"}}
  bot:   {{type: slack, token: xoxb-test-token, channel: "#training", api_url: "{fake_slack.api_url}"}}
  mail:  {{type: email, smtp_url: "smtp://127.0.0.1:{smtp_sink.port}", from: runwatch@example.com, to: [oncall@example.com]}}
rules:
  - {{name: loss-nan, metric: loss, condition: nonfinite, severity: critical, notify: [hook, bot, mail]}}
"""


def test_a_nan_loss_reaches_slack_webhook_web_api_and_email_exactly_once(
    emitter_env,
    service_factory,
    fake_slack,
    smtp_sink,
):
    service = service_factory(_rules_for(fake_slack, smtp_sink))
    run = emitter.init("alerts-e2e", name="nan-run")
    run.log({"loss": 0.5}, step=0)
    run.log({"loss": math.nan}, step=1)
    run.log({"loss": math.nan}, step=2)  # same episode: no second notification
    run.finish()

    requests = fake_slack.wait_for(2, status=200)
    mails = smtp_sink.wait_for(1)
    deliveries = settled(service, run.id)
    assert sorted((d.channel, d.status, d.attempts) for d in deliveries) == [
        ("bot", SENT, 1),
        ("hook", SENT, 1),
        ("mail", SENT, 1),
    ]
    assert sorted(r.path for r in fake_slack.requests) == [
        "/api/chat.postMessage",
        fake_slack.webhook_url[len(fake_slack.url) :],
    ]
    assert len(smtp_sink.received) == 1
    webhook = next(r.json() for r in requests if not r.path.startswith("/api/"))
    text = str(webhook)
    assert "loss-nan" in text and "nan-run" in text and "alerts-e2e" in text and f"/runs/{run.id}" in text
    assert "nan-run" in mails[0].message["Subject"]
    [record] = service.store.alerts.history()
    assert (record.rule, record.state, record.metric, record.step) == ("loss-nan", "firing", "loss", 1)
    assert {d["channel"]: d["status"] for d in record.deliveries} == {"hook": "sent", "bot": "sent", "mail": "sent"}
    # the service's /metrics counts what happened
    samples = scrape(service.service.exporter)
    assert value(samples, "runwatch_alerts_fired_total", rule="loss-nan", severity="critical") == 1
    for channel in ("hook", "bot", "mail"):
        assert value(samples, "runwatch_notifications_sent_total", channel=channel) == 1
    # and live views read it from the alerts stream
    published = redis.Redis.from_url(service.service.settings.redis_url)
    entries = cast("list[tuple[bytes, dict[bytes, bytes]]]", published.xrange(service.service.settings.keys.alerts))
    [(_, fields)] = entries
    published.close()
    alert = decode_fields(fields)
    assert alert is not None and (alert.rule, alert.run_id) == ("loss-nan", run.id)


def test_slack_429_then_500s_then_200_is_delivered_once_and_not_before_retry_after(
    emitter_env,
    service_factory,
    fake_slack,
):
    fake_slack.enqueue(Reply.rate_limited(2), Reply(500, "oops"), Reply(500, "oops"))
    service = service_factory(f"""
channels: {{hook: {{type: slack, webhook_url: "{fake_slack.webhook_url}"}}}}
rules: [{{name: loss-nan, metric: loss, condition: nonfinite}}]
""")
    run = emitter.init("alerts-429")
    run.log({"loss": math.inf}, step=0)
    run.finish()

    fake_slack.wait_for(1, status=200, timeout=30)
    [delivery] = settled(service, run.id)
    assert (delivery.status, delivery.attempts) == (SENT, 4)
    assert [r.status for r in fake_slack.requests] == [429, 500, 500, 200]
    samples = scrape(service.service.exporter)
    assert value(samples, "runwatch_notifications_failed_total", channel="hook") == 3
    assert value(samples, "runwatch_notifications_sent_total", channel="hook") == 1
    first, second = fake_slack.requests[0], fake_slack.requests[1]
    assert second.received_at >= first.answered_at + 2.0, "retried before Retry-After"


def test_a_run_killed_with_sigkill_raises_one_lost_alert_within_after_plus_one_second(
    emitter_env, service_factory, store
):
    service = service_factory(
        "rules: [{name: lost, on: heartbeat_lost, after: 3s, severity: critical}]", stall_interval=1.0
    )
    env = {**emitter_env, "RUNWATCH_HEARTBEAT_INTERVAL": "0.5"}
    job = spawn_python(
        "import emitter, time\nrun = emitter.init('lost-job')\n"
        "for s in range(10**6):\n    run.log({'x': float(s)}, step=s)\n    time.sleep(0.01)\n",
        env,
    )
    wait_for(lambda: store.runs.recent(project="lost-job"), what="the job running")
    time.sleep(1.0)  # the job logs and beats for a while
    job.send_signal(signal.SIGKILL)
    job.wait()
    [record] = wait_for(lambda: service.store.alerts.history(), timeout=15, what="the lost alert")
    run = store.runs.get(record.run_id)
    assert record.rule == "lost" and run.status == "lost"
    assert record.at - run.last_event_at <= 3.0 + 1.0 + 0.25  # after + the detector's period (+ commit slack)
    labels = {"project": "lost-job", "run_id": run.id, "run_name": run.name}
    assert value(scrape(service.service.exporter), "runwatch_run_status", **labels, status="lost") == 1
    assert service.stall_check() == [], "the detector's next look at the lost run raises nothing"
    assert len(service.store.alerts.history()) == 1, "one alert per episode"


@pytest.mark.slow
def test_no_false_lost_alert_while_the_emitter_spools_because_redis_is_down(tmp_path, prefix, home):
    from collector.settings import Settings

    server = RedisServer(tmp_path / "redis").start()
    settings = Settings(redis_url=server.url, prefix=prefix, home=home, block_ms=100, lost_after=3.0)
    service = ThreadedService(settings, parse_rules("rules: [{name: lost, on: heartbeat_lost, after: 3s}]")).start()
    env = {
        **os.environ,
        "RUNWATCH_REDIS_URL": server.url,
        "RUNWATCH_PREFIX": prefix,
        "RUNWATCH_HOME": str(home),
        "RUNWATCH_HEARTBEAT_INTERVAL": "0.5",
    }
    job = spawn_python(
        "import emitter, time\nrun = emitter.init('outage-job')\n"
        "for s in range(1400):\n    run.log({'x': float(s)}, step=s)\n    time.sleep(0.01)\nrun.finish()\n",
        env,
    )
    try:
        wait_for(lambda: service.store.runs.recent(project="outage-job"), what="the job running")
        server.kill()
        time.sleep(8)  # well past `after`: the emitter spools, the collector cannot read
        assert service.stall_check() == [], "silence while Redis is down is not a lost run"
        server.start()
        assert job.wait(60) == 0
        run = wait_for(
            lambda: (r := service.store.runs.recent(project="outage-job")) and r[0].status == "finished" and r[0],
            timeout=60,
            what="the run finished",
        )
        assert service.store.series.count_points(run.id) == 1400
        assert service.store.alerts.history() == []
    finally:
        job.kill()
        service.stop()
        server.kill()


def test_collector_killed_after_committing_an_alert_sends_it_exactly_once_after_restart(
    emitter_env,
    settings,
    fake_slack,
    tmp_path,
):
    rules = tmp_path / "alerts.yaml"
    rules.write_text(f"""
channels: {{hook: {{type: slack, webhook_url: "{fake_slack.webhook_url}"}}}}
rules: [{{name: loss-nan, metric: loss, condition: nonfinite}}]
""")
    fake_slack.enqueue(*[Reply(500, "down")] * 50)  # Slack is down: the alert waits in the outbox
    env = {**emitter_env, "RUNWATCH_ALERTS": str(rules), "RUNWATCH_DELIVERY_LEASE": "2"}
    collector = CollectorProcess(env, tmp_path / "collector.log").start()
    try:
        run = emitter.init("alerts-crash")
        run.log({"loss": math.nan}, step=0)
        run.finish()
        fake_slack.wait_for(1, status=500, timeout=30)  # committed, and one attempt failed
        collector.kill9()
        fake_slack.clear_replies()  # Slack is back
        collector.start()
        fake_slack.wait_for(1, status=200, timeout=30)
        # settled: the run's last event is stored, every entry read since the restart is
        # committed and acknowledged, and no delivery is pending: nothing is left to send again
        store = open_store(settings)  # the backend the collector process writes (SQLite or PostgreSQL)
        client = redis.Redis.from_url(settings.redis_url)
        wait_for(
            lambda: (
                (r := store.runs.get(run.id))
                and r.status == "finished"
                and _unacknowledged(client, settings) == 0
                and store.alerts.deliveries("pending") == []
            ),
            what="the run stored, every entry acknowledged and no delivery pending",
        )
        [delivery] = store.alerts.deliveries()
        store.close()
        client.close()
        assert delivery.status == SENT
        assert [r.status for r in fake_slack.requests].count(200) == 1
    finally:
        collector.stop()


def _unacknowledged(client: redis.Redis, settings) -> int:
    return sum(client.xpending(stream, GROUP)["pending"] for stream in settings.keys.streams(settings.shards))


def test_a_silenced_alert_is_recorded_but_not_sent_and_alerts_after_the_silence_are(
    emitter_env,
    service_factory,
    fake_slack,
):
    service = service_factory(f"""
channels: {{hook: {{type: slack, webhook_url: "{fake_slack.webhook_url}"}}}}
rules: [{{name: loss-nan, metric: loss, condition: nonfinite}}]
""")
    now = time.time()
    silence = service.store.silences.create(
        rule="loss-nan",
        run_id=None,
        project="alerts-silenced",
        starts_at=now - 1,
        ends_at=now + 600,
        comment="known flaky job",
        created_by="test",
        now=now,
    )
    run = emitter.init("alerts-silenced")
    run.log({"loss": math.nan}, step=0)
    assert run.flush(20)
    [record] = wait_for(lambda: service.store.alerts.history(), what="the alert recorded")
    assert record.rule == "loss-nan"
    [delivery] = record.deliveries
    assert delivery["status"] == "silenced" and "known flaky job" in delivery["last_error"]

    assert service.store.silences.expire(silence, time.time())
    run.log({"loss": 1.0}, step=1)  # resolves the episode
    run.log({"loss": math.nan}, step=2)  # a new episode, no silence any more
    run.finish()
    fake_slack.wait_for(1, status=200)
    deliveries = settled(service, run.id)
    assert [d.status for d in deliveries] == [DeliveryStatus.SILENCED, SENT]
    assert len(fake_slack.requests) == 1, "only the alert after the silence was sent"


def test_without_a_rules_file_every_metric_is_watched_for_non_finite_values(emitter_env, settings, tmp_path):
    ruleset = load_ruleset(tmp_path / "no-alerts.yaml")  # the built-in defaults
    service = ThreadedService(settings, ruleset).start()
    try:
        run = emitter.init("defaults", name="default-rules")
        run.log({"loss": 0.5, "val/acc": math.nan}, step=0)
        run.log({"grad_norm": math.inf, "val/acc": math.nan, "loss": 0.4}, step=1)  # val/acc: the same episode
        run.finish()

        deliveries = settled(service, run.id)
        records = service.store.alerts.history(run_id=run.id)
    finally:
        service.stop()
    fired = sorted((r.rule, r.metric, r.state) for r in records)
    assert fired == [("metric-not-finite", "grad_norm", "firing"), ("metric-not-finite", "val/acc", "firing")]
    assert [d.status for d in deliveries] == [SENT, SENT]


def test_the_built_in_rules_are_the_ones_docs_alerts_md_shows():
    from pathlib import Path

    from collector.alerting import DEFAULT_RULES

    docs = (Path(__file__).parents[2] / "docs" / "alerts.md").read_text()
    shown = docs.split("## Without a rules file", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    assert parse_rules(shown).describe()["rules"] == parse_rules(DEFAULT_RULES).describe()["rules"]
