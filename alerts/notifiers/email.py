"""Email through SMTP: ``smtps://`` (implicit TLS) or ``smtp://`` with STARTTLS.

``smtp://`` upgrades with STARTTLS when the server offers it, and insists on it when
the channel says ``starttls: true`` (a server that does not offer it is then a
permanent failure rather than a silent downgrade). Each message has a plain and an
HTML part; everything in the HTML that a user or a training script controls is
escaped, and control characters are shown escaped everywhere (a CR in a run name
would otherwise end a header, or make every email about the run unsendable).
"""

from __future__ import annotations

import html
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from alerts._text import multi_line, one_line
from alerts.channels import EmailChannel
from alerts.digest_render import digest_email
from alerts.errors import NotifyError
from alerts.notifiers.base import AlertMessage, format_value

__all__ = ["EmailNotifier", "build_email"]


class EmailNotifier:
    """Sends one email per alert to the channel's recipients.

    >>> channel = EmailChannel(type="email", smtp_url="smtps://bot:pw@smtp.example.com", **{"from": "rw@x.org"}, to=["a@x.org"])
    >>> EmailNotifier("oncall", channel).send(message)
    """

    def __init__(self, name: str, config: EmailChannel, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.name = name
        self.config = config
        self._ssl_context = ssl_context

    def send(self, message: AlertMessage) -> None:
        try:
            build = digest_email if message.digest is not None else build_email
            email = build(message, sender=self.config.from_, recipients=self.config.to)
        except (ValueError, UnicodeError) as exc:  # the same message would fail again: never retried
            raise NotifyError(
                self.name, None, f"cannot build the email: {type(exc).__name__}", permanent=True
            ) from None
        try:
            self._deliver(email)
        except NotifyError:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            permanent = all(code >= 500 for code in codes)
            raise NotifyError(
                self.name, codes[0] if codes else None, "recipients refused", permanent=permanent
            ) from None
        except smtplib.SMTPResponseException as exc:
            detail = f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}"
            raise NotifyError(self.name, exc.smtp_code, detail, permanent=exc.smtp_code >= 500) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifyError(self.name, None, f"cannot reach SMTP server: {type(exc).__name__}") from None

    def _deliver(self, email: EmailMessage) -> None:
        target = self.config.target()
        context = self._ssl_context or ssl.create_default_context()
        timeout = self.config.timeout
        smtp: smtplib.SMTP
        if target.ssl:
            smtp = smtplib.SMTP_SSL(target.host, target.port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(target.host, target.port, timeout=timeout)
        with smtp:
            smtp.ehlo()
            if not target.ssl:
                offered = smtp.has_extn("starttls")
                if self.config.starttls and not offered:
                    raise NotifyError(self.name, None, "server does not offer STARTTLS", permanent=True)
                if offered and self.config.starttls is not False:
                    smtp.starttls(context=context)
                    smtp.ehlo()
            if target.username:
                password = target.password.get_secret_value() if target.password else ""
                smtp.login(target.username, password)
            smtp.send_message(email)

    def __repr__(self) -> str:
        target = self.config.target()
        return f"<EmailNotifier {self.name!r} {target.host}:{target.port} to={len(self.config.to)}>"


def build_email(message: AlertMessage, *, sender: str, recipients: list[str]) -> EmailMessage:
    """A multipart/alternative email: plain text first, then HTML.

    Headers hold only ``one_line`` text (a CR or LF would end the header, or be refused
    when the message is written), bodies ``multi_line`` text; the HTML part escapes it all.
    """
    email = EmailMessage()
    email["Subject"] = one_line(f"{message.headline} ({message.run_label})")[:250]
    email["From"] = sender
    email["To"] = ", ".join(recipients)
    email["Date"] = formatdate(message.at, localtime=False)
    email["Message-ID"] = make_msgid(domain="runwatch")
    email["X-Runwatch-Alert"] = one_line(message.id)
    rows = _facts(message)
    plain = [one_line(message.headline), ""] + [f"{k}: {v}" for k, v in rows]
    if message.text:
        plain += ["", multi_line(message.text)]
    if message.link:
        plain += ["", f"Open the run: {one_line(message.link)}"]
    email.set_content("\n".join(plain) + "\n")
    email.add_alternative(_html(message, rows), subtype="html")
    return email


def _facts(message: AlertMessage) -> list[tuple[str, str]]:
    rows = [
        ("Rule", message.rule),
        ("Run", message.run_label),
        ("Project", message.project or "-"),
        ("Severity", message.severity),
        ("State", "resolved" if message.state == "resolved" else "repeat" if message.repeat else "firing"),
    ]
    if message.metric is not None:
        rows += [("Metric", message.metric), ("Value", format_value(message.value))]
        rows.append(("Step", str(message.step) if message.step is not None else "-"))
    when = datetime.fromtimestamp(message.at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    rows.append(("Time", when))
    return [(name, one_line(value)) for name, value in rows]


def _html(message: AlertMessage, rows: list[tuple[str, str]]) -> str:
    e = html.escape
    cells = "".join(f"<tr><th align='left' style='padding-right:12px'>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    text = f"<p style='white-space:pre-wrap'>{e(multi_line(message.text))}</p>" if message.text else ""
    link = f'<p><a href="{e(one_line(message.link), quote=True)}">Open the run</a></p>' if message.link else ""
    return (
        "<!doctype html><html><body style='font-family:sans-serif'>"
        f"<h2>{e(one_line(message.headline))}</h2><table>{cells}</table>{text}{link}"
        "</body></html>"
    )


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text.strip()[:200]
