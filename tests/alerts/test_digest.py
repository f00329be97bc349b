"""Digest entries of the rules file: schedules, periods, validation, and how each channel renders one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from alerts import AlertMessage, RuleError, parse_rules
from alerts.digest import Digest, parse_schedule
from alerts.digest_render import digest_blocks, digest_email, digest_text
from alerts.digest_report import DigestReport, DigestRun, digest_deliveries


def ts(text: str, zone: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def digest(**fields: object) -> Digest:
    return Digest.model_validate({"name": "nightly", "metric": "val/acc", "mode": "max", **fields})


# ---------------------------------------------------------------- schedules and periods


def test_a_daily_digest_covers_the_day_up_to_its_time() -> None:
    d = digest(schedule="daily 08:00")
    period = d.due_period(ts("2026-12-01 09:30"))
    assert period.key == "2026-12-01T08:00:00+00:00"
    assert (period.start, period.end) == (ts("2026-11-30 08:00"), ts("2026-12-01 08:00"))


def test_the_scheduled_minute_itself_belongs_to_the_period_it_ends() -> None:
    d = digest(schedule="daily 08:00")
    assert d.due_period(ts("2026-12-01 08:00")).key == "2026-12-01T08:00:00+00:00"
    assert d.due_period(ts("2026-12-01 07:59:59")).key == "2026-11-30T08:00:00+00:00"


def test_the_time_is_wall_clock_time_in_the_digest_time_zone() -> None:
    d = digest(schedule="daily 08:00", timezone="Europe/Paris")
    winter = d.due_period(ts("2026-12-01 08:30", "Europe/Paris"))
    summer = d.due_period(ts("2026-07-01 08:30", "Europe/Paris"))
    assert winter.end == ts("2026-12-01 07:00")  # UTC+1
    assert summer.end == ts("2026-07-01 06:00")  # UTC+2


def test_a_cron_schedule_on_weekdays_skips_the_weekend() -> None:
    d = digest(schedule="0 8 * * 1-5")
    monday = d.due_period(ts("2026-11-30 09:00"))  # 2026-11-30 is a Monday
    assert monday.key == "2026-11-30T08:00:00+00:00"
    assert monday.start == ts("2026-11-27 08:00")  # the Friday before


def test_cron_lists_steps_and_ranges() -> None:
    schedule = parse_schedule("*/15 9-10,18 * * *")
    assert schedule.minutes == {0, 15, 30, 45}
    assert schedule.hours == {9, 10, 18}
    when = datetime(2026, 12, 1, 10, 44, tzinfo=UTC)
    assert schedule.latest_at_or_before(when) == datetime(2026, 12, 1, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("daily 24:00", "no such time of day 24:00"),
        ("weekly", "expected 'daily HH:MM' or a 5-field cron line"),
        ("0 8 * *", "expected 'daily HH:MM' or a 5-field cron line"),
        ("61 8 * * *", "minute '61' is out of range 0-59"),
        ("0 8 x * *", "cannot parse day of month 'x'"),
        ("0 0 31 2 *", "matches no date"),
    ],
)
def test_a_bad_schedule_says_what_is_wrong(schedule: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_schedule(schedule)


# ---------------------------------------------------------------- the rules file

GOOD = """
channels:
  team: {type: console}
rules:
  - {name: lost, on: heartbeat_lost, after: 60s}
digests:
  - {name: nightly, schedule: "daily 08:00", timezone: Europe/Paris, scope: "project = 'cifar'",
     metric: val/acc, mode: max, notify: [team]}
  - {name: weekly, schedule: "0 9 * * 1", metric: loss, mode: min}
"""


def test_digests_load_with_the_rules() -> None:
    ruleset = parse_rules(GOOD)
    assert [d.name for d in ruleset.digests] == ["nightly", "weekly"]
    assert ruleset.rule("lost").after == 60
    nightly = ruleset.digest("nightly")
    assert (nightly.scope, nightly.metric, nightly.mode, nightly.timezone) == (
        "project = 'cifar'",
        "val/acc",
        "max",
        "Europe/Paris",
    )
    assert ruleset.notify_for_digest(ruleset.digest("weekly")) == ("team",)  # no notify: every channel
    assert [d["name"] for d in ruleset.describe()["digests"]] == ["nightly", "weekly"]


BAD = """
channels:
  team: {type: console}
rules:
  - {name: ok, on: status}
  - {name: diverging, metric: loss, condition: ">> 10"}
digests:
  - {name: nightly, schedule: "daily 08:00", metric: val/acc, mode: max}
  - {name: broken, schedule: "daily 25:00", metric: val/acc, mode: best}
  - {name: mars, schedule: "daily 08:00", timezone: Mars/Olympus, metric: val/acc, mode: max, notify: [nobody]}
  - {name: scoped, schedule: "daily 08:00", metric: val/acc, mode: max, scope: "project = "}
  - {name: nightly, schedule: "daily 09:00", metric: loss, mode: min}
"""


def test_malformed_digests_are_named_with_every_other_problem_of_the_file() -> None:
    with pytest.raises(RuleError) as caught:
        parse_rules(BAD, source="alerts.yaml", check_scope=lambda s: "unexpected end" if s.endswith("= ") else None)
    found = [e.describe() for e in caught.value.errors]
    assert found == [
        "alerts.yaml:6: rule 'diverging': field 'condition': cannot parse '>> 10'"
        ' (expected nonfinite, no_improvement, new_best or a comparison like "> 10")',
        "alerts.yaml:9: digest 'broken': field 'schedule': no such time of day 25:00 (expected HH:MM, 00:00-23:59)",
        "alerts.yaml:9: digest 'broken': field 'mode': Input should be 'min' or 'max'",
        "alerts.yaml:10: digest 'mars': field 'timezone': unknown time zone 'Mars/Olympus'"
        " (expected e.g. UTC or Europe/Paris)",
        "alerts.yaml:11: digest 'scoped': field 'scope': unexpected end",
        "alerts.yaml:12: digest 'nightly': field 'name': duplicate digest name 'nightly'",
    ]
    assert caught.value.errors[1].digest == "broken"


def test_a_digest_naming_an_unknown_channel_is_an_error() -> None:
    text = GOOD.replace("notify: [team]", "notify: [tema]")
    with pytest.raises(
        RuleError, match=r"digest 'nightly': field 'notify': unknown channel 'tema' \(configured: team\)"
    ):
        parse_rules(text)


def test_a_digest_entry_that_is_not_a_mapping_or_misses_fields() -> None:
    with pytest.raises(RuleError) as caught:
        parse_rules("digests:\n  - nightly\n  - {name: x, schedule: daily 08:00}\n")
    messages = [e.describe() for e in caught.value.errors]
    assert any("digest '#1'" in m for m in messages)
    assert "<string>:3: digest 'x': field 'metric': required" in messages
    assert "<string>:3: digest 'x': field 'mode': required" in messages


def test_digests_must_be_a_list() -> None:
    with pytest.raises(RuleError, match="field 'digests': must be a list of digests"):
        parse_rules("digests: {name: x}\n")


# ---------------------------------------------------------------- rendering


def report() -> DigestReport:
    best = DigestRun("r2", "resnet-<2>", "cifar", "finished", 0.93, "http://rw.example/runs/r2")
    other = DigestRun("r3", "resnet-3", "cifar", "running", 0.91, "http://rw.example/runs/r3")
    previous = DigestRun("r1", "resnet-1", "cifar", "finished", 0.9, "http://rw.example/runs/r1")
    lost = DigestRun("r9", "flaky", "cifar", "lost", None, "http://rw.example/runs/r9")
    return DigestReport(
        name="nightly",
        metric="val/acc",
        mode="max",
        scope="project = 'cifar'",
        period_key="2026-12-01T08:00:00+00:00",
        start=ts("2026-11-30 08:00"),
        end=ts("2026-12-01 08:00"),
        best=[best, other],
        previous_best=previous,
        params_diff=[("lr", 0.01, 0.003), ("warmup", None, 500)],
        ended_badly=[lost],
    )


def message_of(r: DigestReport) -> AlertMessage:
    delivery = digest_deliveries(r, ["team"], now=r.end)[0]
    return AlertMessage.from_transition(delivery.transition, "http://rw.example")


def test_the_report_round_trips_through_the_outbox_payload() -> None:
    r = report()
    payload = digest_deliveries(r, ["team"], now=r.end)[0].payload
    assert DigestReport.from_dict(json.loads(json.dumps(payload, allow_nan=False))["digest"]) == r


def test_delivery_ids_depend_on_the_digest_and_period_only() -> None:
    r = report()
    empty = DigestReport("nightly", "val/acc", "max", None, r.period_key, r.start, r.end)
    ids = [d.id for d in digest_deliveries(r, ["team", "mail"], now=1.0)]
    assert ids == ["digest:nightly:2026-12-01T08:00:00+00:00@team", "digest:nightly:2026-12-01T08:00:00+00:00@mail"]
    assert [d.id for d in digest_deliveries(empty, ["team", "mail"], now=2.0)] == ids


def test_text_lists_best_runs_diff_and_failures_with_links() -> None:
    text = digest_text(report())
    assert text.splitlines()[0] == "Digest nightly: new best val/acc 0.93 (resnet-<2>), 1 failed or lost"
    assert "  resnet-<2> (cifar, finished) 0.93 http://rw.example/runs/r2" in text
    assert "Previous best: resnet-1 (cifar, finished) 0.9 http://rw.example/runs/r1" in text
    assert "  lr: 0.01 -> 0.003" in text
    assert "  warmup: (absent) -> 500" in text
    assert "  flaky (cifar, lost) - http://rw.example/runs/r9" in text


def test_email_has_text_and_escaped_html_parts() -> None:
    email = digest_email(message_of(report()), sender="rw@example.com", recipients=["team@example.com"])
    assert email["Subject"] == "Digest nightly: new best val/acc 0.93 (resnet-<2>), 1 failed or lost"
    plain = email.get_body(("plain",))
    html = email.get_body(("html",))
    assert plain is not None and html is not None
    assert "lr: 0.01 -> 0.003" in plain.get_content()
    content = html.get_content()
    assert '<a href="http://rw.example/runs/r2">resnet-&lt;2&gt;</a>' in content
    assert "<script" not in content and "resnet-<2>" not in content


def test_slack_blocks_link_each_run_and_escape_names() -> None:
    blocks = digest_blocks(message_of(report()))
    text = json.dumps(blocks)
    assert blocks[0]["text"]["text"].startswith("Digest nightly: new best val/acc 0.93")
    assert "<http://rw.example/runs/r2|resnet-&lt;2&gt;>" in text
    assert "`lr`: 0.01 \\u2192 0.003" in text
    assert "<http://rw.example/runs/r9|flaky>" in text


def test_a_period_without_news_still_reads_well() -> None:
    r = DigestReport("nightly", "val/acc", "max", None, "k", ts("2026-11-30 08:00"), ts("2026-12-01 08:00"))
    assert r.title == "Digest nightly: no new best val/acc"
    text = digest_text(r)
    assert "New best runs (val/acc, max):\n  none" in text
    assert "Failed or lost:\n  none" in text
    message = message_of(r)
    assert message.link == "http://rw.example"  # no best run: the dashboard
    digest_blocks(message)


def test_a_webhook_receives_the_whole_report(http_server) -> None:
    from alerts.channels import WebhookChannel
    from alerts.notifiers.webhook import WebhookNotifier

    channel = WebhookChannel(type="webhook", url=http_server.url + "/hook", allow_private_targets=True)
    notifier = WebhookNotifier("hooks", channel)
    try:
        notifier.send(message_of(report()))
    finally:
        notifier.close()
    [request] = http_server.wait_for(1)
    alert = request.json()["alert"]
    assert alert["kind"] == "digest" and alert["id"].startswith("nightly|r2|2026-12-01T08:00:00+00:00")
    assert [r["id"] for r in alert["digest"]["best"]] == ["r2", "r3"]
    assert alert["digest"]["params_diff"] == [["lr", 0.01, 0.003], ["warmup", None, 500]]
    assert DigestReport.from_dict(alert["digest"]) == report()


def test_the_console_shows_the_digest_title() -> None:
    import io

    from alerts.notifiers.console import ConsoleNotifier

    out = io.StringIO()
    ConsoleNotifier(out=out).send(message_of(report()))
    assert out.getvalue().startswith("Digest nightly: new best val/acc 0.93 (resnet-<2>), 1 failed or lost")
