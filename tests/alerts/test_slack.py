"""Slack through slack-sdk's real clients, against a fake Slack on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time

import pytest
from pydantic import SecretStr

from alerts.channels import SlackChannel
from alerts.engine import evaluate
from alerts.errors import NotifyError
from alerts.memory_outbox import MemoryOutbox
from alerts.notifiers import AlertMessage, build_notifiers
from alerts.notifiers.slack import SlackNotifier
from alerts.outbox import Backoff, DeliveryStatus, DeliveryWorker, deliveries_for
from alerts.rules_file import parse_rules
from alerts.state import AlertState
from tests.alerts.events import metric
from tests.alerts.fake_slack import WEBHOOK_PATH, FakeSlack, RecordingServer, Reply
from tests.alerts.messages import nan_message
from tests.alerts.smtp_sink import free_port

TOKEN = "xoxb-test-secret-token"
NAN_RULE = "rules: [{name: loss-nan, metric: loss, condition: nonfinite}]"


def webhook(slack: FakeSlack) -> SlackNotifier:
    return SlackNotifier("ml-team", SlackChannel(type="slack", webhook_url=SecretStr(slack.webhook_url)))


def bot(slack: FakeSlack) -> SlackNotifier:
    return SlackNotifier(
        "ml-bot", SlackChannel(type="slack", token=SecretStr(TOKEN), channel="#training", api_url=slack.api_url)
    )


def fields_of(body: dict[str, object]) -> dict[str, str]:
    out = {}
    for block in body["blocks"]:  # type: ignore[attr-defined]
        for field in block.get("fields", []):
            name, _, value = field["text"].partition("\n")
            out[name.strip("*")] = value
    return out


def strings_in(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


def test_webhook_posts_block_kit_with_everything_a_reader_needs(fake_slack: FakeSlack) -> None:
    webhook(fake_slack).send(nan_message())

    [request] = fake_slack.wait_for(1)
    assert request.path == WEBHOOK_PATH
    body = request.json()
    assert body["text"] == "[FIRING critical] loss-nan: loss is NaN"
    assert fields_of(body) == {
        "Rule": "loss-nan",
        "Run": "<http://rw.test/runs/r-123|resnet-7>",
        "Project": "vision",
        "Severity": "critical",
        "Metric": "loss",
        "Value": "NaN",
        "Step": "12",
    }
    assert any(
        b["type"] == "actions" and b["elements"][0]["url"] == "http://rw.test/runs/r-123" for b in body["blocks"]
    )


def test_chat_post_message_uses_the_token_and_channel(fake_slack: FakeSlack) -> None:
    bot(fake_slack).send(nan_message())

    [request] = fake_slack.wait_for(1)
    assert request.path == "/api/chat.postMessage"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    body = request.json()
    assert body["channel"] == "#training"
    blocks = json.loads(body["blocks"]) if isinstance(body["blocks"], str) else body["blocks"]
    assert fields_of({"blocks": blocks})["Value"] == "NaN"


def test_user_text_cannot_inject_mentions_or_links(fake_slack: FakeSlack) -> None:
    webhook(fake_slack).send(nan_message(run_name="<!channel> <http://evil|x>", text="a & b"))

    raw = fake_slack.wait_for(1)[0].body.decode()
    assert "<!channel>" not in raw and "&lt;!channel&gt;" in raw and "a &amp; b" in raw


@pytest.mark.parametrize("make", [webhook, bot])
def test_429_maps_to_retry_after(fake_slack: FakeSlack, make: object) -> None:
    fake_slack.enqueue(Reply.rate_limited(2))
    with pytest.raises(NotifyError) as info:
        make(fake_slack).send(nan_message())  # type: ignore[operator]
    assert (info.value.status, info.value.retry_after, info.value.permanent) == (429, 2.0, False)


@pytest.mark.parametrize(
    ("make", "reply", "permanent"),
    [
        (webhook, Reply(404, "no_service"), True),
        (webhook, Reply(403, "action_prohibited"), True),
        (webhook, Reply(500, "internal error"), False),
        (webhook, Reply(503, "unavailable"), False),
        (bot, Reply(200, {"ok": False, "error": "channel_not_found"}), True),
        (bot, Reply(200, {"ok": False, "error": "invalid_auth"}), True),
        (bot, Reply(500, {"ok": False, "error": "internal_error"}), False),
    ],
)
def test_4xx_is_permanent_and_5xx_is_retried(
    fake_slack: FakeSlack, make: object, reply: Reply, permanent: bool
) -> None:
    fake_slack.enqueue(reply)
    with pytest.raises(NotifyError) as info:
        make(fake_slack).send(nan_message())  # type: ignore[operator]
    assert info.value.permanent is permanent
    assert "fakewebhooksecret" not in str(info.value) and TOKEN not in str(info.value)


def test_an_unreachable_slack_is_retried_and_the_url_is_not_leaked() -> None:
    url = f"http://127.0.0.1:{free_port()}/services/T/B/secretpart"
    with pytest.raises(NotifyError) as info:
        SlackNotifier("ml-team", SlackChannel(type="slack", webhook_url=SecretStr(url), timeout=2)).send(nan_message())
    assert info.value.permanent is False and "secretpart" not in str(info.value)


@pytest.mark.timeout(30)
async def test_429_then_500s_then_200_is_delivered_exactly_once_and_not_before_retry_after(
    fake_slack: FakeSlack,
) -> None:
    ruleset = parse_rules(
        f"channels: {{ml-team: {{type: slack, webhook_url: '{fake_slack.webhook_url}'}}}}\n"
        "rules: [{name: loss-nan, metric: loss, condition: nonfinite}]\n"
    )
    fake_slack.enqueue(Reply.rate_limited(2), Reply(500), Reply(500), Reply(500))
    outbox = MemoryOutbox()
    worker = DeliveryWorker(
        outbox,
        build_notifiers(ruleset),
        backoff=Backoff(base=0.05, cap=0.2),
        poll_interval=0.02,
        rng=random.Random(3),
    )
    task = asyncio.create_task(worker.run())
    now = time.time()
    transitions = evaluate(ruleset, AlertState(), [metric(1, loss=float("nan"))], now)
    outbox.add_deliveries(deliveries_for(transitions, now))
    worker.wake()

    await asyncio.to_thread(fake_slack.wait_for, 1, 20.0, status=200)
    await worker.drained()  # no attempt under way and none due: a duplicate would have been sent by now
    await worker.stop()
    await task

    statuses = [r.status for r in fake_slack.requests]
    assert statuses == [429, 500, 500, 500, 200]
    assert fake_slack.requests[1].received_at - fake_slack.requests[0].answered_at >= 2.0
    assert [(d.status, d.attempts) for d in outbox.all()] == [(DeliveryStatus.SENT, 5)]


def test_the_run_link_cannot_be_broken_out_of_by_a_run_id(fake_slack: FakeSlack) -> None:
    """Slack's <url|text>: a '|' or '>' in the run id must neither end the URL nor the link."""
    run_id = "r|x><!channel><http://evil.example|click>"
    [transition] = evaluate(parse_rules(NAN_RULE), AlertState(), [metric(1, run=run_id, loss=float("nan"))], 0.0)
    webhook(fake_slack).send(AlertMessage.from_transition(transition, public_url="http://rw.test"))

    body = fake_slack.wait_for(1)[0].json()
    quoted = "r%7Cx%3E%3C%21channel%3E%3Chttp%3A%2F%2Fevil.example%7Cclick%3E"
    assert (
        fields_of(body)["Run"]
        == f"<http://rw.test/runs/{quoted}|r|x&gt;&lt;!channel&gt;&lt;http://evil.example|click&gt;>"
    )
    button = next(b for b in body["blocks"] if b["type"] == "actions")["elements"][0]
    assert button["url"] == f"http://rw.test/runs/{quoted}"
    assert "<!channel>" not in json.dumps(body)


def test_control_characters_never_reach_slack(fake_slack: FakeSlack) -> None:
    evil = "resnet\x1b[2J\x00\u202e"
    webhook(fake_slack).send(nan_message(run_name=evil, title=evil, text=f"a\r\n{evil}", rule=evil, project=evil))

    body = fake_slack.wait_for(1)[0].json()
    assert not {"\x1b", "\x00", "\u202e", "\r"} & set("".join(strings_in(body)))
    assert fields_of(body)["Project"] == "resnet\\x1b[2J\\x00\\u202e"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("make", [webhook, bot])
def test_a_redirect_is_refused_and_the_token_never_reaches_its_target(
    fake_slack: FakeSlack, make: object, status: int
) -> None:
    with RecordingServer() as elsewhere:
        fake_slack.enqueue(Reply.redirect(elsewhere.url + "/collect", status))
        with pytest.raises(NotifyError) as info:
            make(fake_slack).send(nan_message())  # type: ignore[operator]

        # send() is synchronous: a redirect it followed would have been recorded before it returned
        assert elsewhere.requests == [] and not any(TOKEN in seen for seen in elsewhere.tokens_seen())
    assert (info.value.status, info.value.permanent) == (status, True)
    assert "redirect" in info.value.detail


def test_slack_sdk_never_logs_the_webhook_url_or_the_token(
    fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="alerts.notifiers.slack.sdk")  # even while someone debugs it
    for make in (webhook, bot):
        fake_slack.enqueue(Reply(500, {"ok": False, "error": "internal_error"}))
        with pytest.raises(NotifyError):
            make(fake_slack).send(nan_message())
        make(fake_slack).send(nan_message())

    assert len(fake_slack.requests) == 4
    assert "fakewebhooksecret" not in caplog.text and TOKEN not in caplog.text
