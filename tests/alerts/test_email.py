"""Email through smtplib to a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from alerts.channels import EmailChannel
from alerts.errors import NotifyError
from alerts.notifiers.email import EmailNotifier
from tests.alerts.messages import nan_message
from tests.alerts.smtp_sink import SmtpSink, free_port


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None, f"no {subtype} part"
    return str(part.get_content())


def channel(port: int, **extra: object) -> EmailChannel:
    return EmailChannel.model_validate(
        {
            "type": "email",
            "smtp_url": f"smtp://127.0.0.1:{port}",
            "from": "runwatch@example.com",
            "to": ["oncall@example.com", "ml@example.com"],
            "timeout": 5,
            **extra,
        }
    )


def test_an_alert_arrives_with_plain_and_html_parts(smtp_sink: SmtpSink) -> None:
    EmailNotifier("oncall", channel(smtp_sink.port)).send(nan_message())

    [mail] = smtp_sink.wait_for(1)
    assert mail.mail_from == "runwatch@example.com"
    assert mail.rcpt_tos == ["oncall@example.com", "ml@example.com"]
    message = mail.message
    assert message["Subject"] == "[FIRING critical] loss-nan: loss is NaN (resnet-7)"
    assert message["X-Runwatch-Alert"] == "loss-nan|r-123#1.0"
    assert message.get_content_type() == "multipart/alternative"
    plain = body(message, "plain")
    html = body(message, "html")
    for text in (
        "Run: resnet-7",
        "Project: vision",
        "Metric: loss",
        "Value: NaN",
        "Step: 12",
        "http://rw.test/runs/r-123",
    ):
        assert text in plain
    assert '<a href="http://rw.test/runs/r-123">' in html and "<td>NaN</td>" in html


def test_everything_user_controlled_is_escaped_in_html(smtp_sink: SmtpSink) -> None:
    evil = "<script>alert(1)</script>"
    EmailNotifier("oncall", channel(smtp_sink.port)).send(
        nan_message(run_name=evil, title=evil, text=evil, project=evil, metric=evil, rule=evil)
    )

    html = body(smtp_sink.wait_for(1)[0].message, "html")
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_starttls_required_but_not_offered_is_a_permanent_failure(smtp_sink: SmtpSink) -> None:
    with pytest.raises(NotifyError) as info:
        EmailNotifier("oncall", channel(smtp_sink.port, starttls=True)).send(nan_message())
    assert info.value.permanent and "STARTTLS" in info.value.detail
    assert smtp_sink.received == []


def test_a_refused_recipient_is_permanent(smtp_sink: SmtpSink) -> None:
    smtp_sink.reject_rcpt = "550 5.1.1 no such user"
    with pytest.raises(NotifyError) as info:
        EmailNotifier("oncall", channel(smtp_sink.port)).send(nan_message())
    assert (info.value.status, info.value.permanent) == (550, True)


def test_an_unreachable_server_is_retried_and_the_password_never_shown() -> None:
    config = EmailChannel.model_validate(
        {
            "type": "email",
            "smtp_url": f"smtp://bot:hunter2@127.0.0.1:{free_port()}",
            "from": "a@b.c",
            "to": ["d@e.f"],
            "timeout": 2,
        }
    )
    with pytest.raises(NotifyError) as info:
        EmailNotifier("oncall", config).send(nan_message())
    assert info.value.permanent is False
    assert "hunter2" not in str(info.value) and "hunter2" not in repr(EmailNotifier("oncall", config))


def test_control_characters_in_names_neither_break_nor_inject_headers(smtp_sink: SmtpSink) -> None:
    """A CR in a run name used to make every email about the run undeliverable (retried until expiry)."""
    evil = "resnet\rBcc: victim@example.com\r\n\x1b[2Jx"
    EmailNotifier("oncall", channel(smtp_sink.port)).send(
        nan_message(run_name=evil, rule=f"r{evil}", title=evil, id=f"r|run\r\n{evil}#1.0", text=f"line 1\r\n{evil}")
    )

    [mail] = smtp_sink.wait_for(1)
    message = mail.message
    assert mail.rcpt_tos == ["oncall@example.com", "ml@example.com"] and message["Bcc"] is None
    for header in ("Subject", "X-Runwatch-Alert"):
        assert not {"\r", "\n", "\x1b"} & set(str(message[header])), header
    assert "resnet Bcc: victim@example.com \\x1b[2Jx" in str(message["Subject"])
    plain = body(message, "plain").replace("\r\n", "\n")  # SMTP's line ends
    html = body(message, "html")
    assert not {"\x1b", "\r"} & set(plain) and "\x1b" not in html
    assert "line 1\nresnet\nBcc: victim@example.com\n\\x1b[2Jx" in plain  # line breaks of a body stay line breaks
