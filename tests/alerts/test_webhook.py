"""The generic webhook: JSON POSTed with httpx to a local HTTP server."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from alerts.channels import WebhookChannel
from alerts.errors import NotifyError
from alerts.notifiers.webhook import WebhookNotifier
from tests.alerts.fake_slack import RecordingServer, Reply
from tests.alerts.messages import nan_message
from tests.alerts.smtp_sink import free_port


def notifier(server: RecordingServer) -> WebhookNotifier:
    config = WebhookChannel.model_validate(
        {
            "type": "webhook",
            "url": server.url + "/hook?token=urlsecret",
            "headers": {"Authorization": "Bearer hdrsecret"},
        }
    )
    return WebhookNotifier("hooks", config)


def test_posts_the_alert_as_json_with_configured_headers(http_server: RecordingServer) -> None:
    hook = notifier(http_server)
    hook.send(nan_message())
    hook.close()

    [request] = http_server.wait_for(1)
    assert request.path == "/hook?token=urlsecret"
    assert request.headers["authorization"] == "Bearer hdrsecret"
    assert request.headers["content-type"] == "application/json"
    body = request.json()
    assert body["version"] == 1
    alert = body["alert"]
    assert (alert["id"], alert["rule"], alert["value"], alert["step"], alert["link"]) == (
        "loss-nan|r-123#1.0",
        "loss-nan",
        "NaN",
        12,
        "http://rw.test/runs/r-123",
    )


@pytest.mark.parametrize(
    ("reply", "permanent", "retry_after"),
    [
        (Reply(429, "slow down", {"Retry-After": "7"}), False, 7.0),
        (Reply(410, "gone"), True, None),
        (Reply(400, "bad"), True, None),
        (Reply(503, "busy"), False, None),
    ],
)
def test_responses_map_to_notify_errors(
    http_server: RecordingServer, reply: Reply, permanent: bool, retry_after: float | None
) -> None:
    http_server.enqueue(reply)
    hook = notifier(http_server)
    with pytest.raises(NotifyError) as info:
        hook.send(nan_message())
    hook.close()

    assert (info.value.status, info.value.permanent, info.value.retry_after) == (reply.status, permanent, retry_after)
    assert "urlsecret" not in str(info.value) and "hdrsecret" not in str(info.value)


def test_an_unreachable_webhook_is_retried_without_leaking_the_url() -> None:
    url = SecretStr(f"http://127.0.0.1:{free_port()}/hook?token=urlsecret")
    config = WebhookChannel.model_validate({"type": "webhook", "url": url, "timeout": 2})
    with pytest.raises(NotifyError) as info:
        WebhookNotifier("hooks", config).send(nan_message())
    assert info.value.permanent is False and "urlsecret" not in str(info.value)
