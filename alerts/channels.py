"""Notification channels as configured under ``channels:`` in the rules file.

Each channel is a pydantic model discriminated by ``type``. Everything that can
grant access — a Slack webhook URL or token, an SMTP password, a webhook URL and
its headers — is a ``SecretStr``: it prints as ``**********`` in reprs, logs and
validation errors, and ``describe()`` gives a view safe to show in the API.

Every URL is checked by ``alerts.targets`` when the file is read: its scheme, and its
host in every spelling a resolver accepts. Private addresses need
``allow_private_targets: true`` on the channel, or at the top of the file (which
``parse_rules`` passes down as the validation context); link-local and cloud
metadata addresses are refused whatever the setting; loopback is always allowed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from alerts.targets import check_host, check_url

__all__ = ["Channel", "ConsoleChannel", "EmailChannel", "SlackChannel", "SmtpTarget", "WebhookChannel"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _allow_private(info: ValidationInfo) -> bool:
    """The channel's own ``allow_private_targets``, else the file's (the validation context)."""
    if info.data.get("allow_private_targets"):
        return True
    return bool(isinstance(info.context, dict) and info.context.get("allow_private_targets"))


def _http_target(url: str, info: ValidationInfo) -> None:
    problem = check_url(url, allow_private=_allow_private(info))
    if problem is not None:
        raise ValueError(problem)


class SlackChannel(_Model):
    """Slack, by incoming webhook (``webhook_url``) or by bot token (``token`` + ``channel``)."""

    type: Literal["slack"]
    allow_private_targets: bool = False  # first: the URL validators read it
    webhook_url: SecretStr | None = None
    token: SecretStr | None = None
    channel: str | None = None
    api_url: str = "https://slack.com/api/"  # GovSlack, or a fake Slack in tests
    timeout: float = Field(10.0, gt=0)

    @field_validator("webhook_url")
    @classmethod
    def _webhook_target(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None:
            _http_target(value.get_secret_value(), info)
        return value

    @field_validator("api_url")
    @classmethod
    def _api_target(cls, value: str, info: ValidationInfo) -> str:
        _http_target(value, info)
        return value if value.endswith("/") else value + "/"  # WebClient joins method names onto it

    @model_validator(mode="after")
    def _one_way_in(self) -> SlackChannel:
        if self.webhook_url is not None and self.token is not None:
            raise ValueError("give either webhook_url, or token and channel, not both")
        if self.webhook_url is None and self.token is None:
            raise ValueError("needs webhook_url, or token and channel")
        if self.token is not None and not self.channel:
            raise ValueError("a token needs a channel to post to (channel: '#training')")
        return self

    def describe(self) -> dict[str, Any]:
        if self.webhook_url is not None:
            return {"type": "slack", "via": "webhook", "host": urlsplit(self.webhook_url.get_secret_value()).hostname}
        return {"type": "slack", "via": "chat.postMessage", "channel": self.channel}


class SmtpTarget(_Model):
    """An ``smtp_url`` taken apart; ``password`` stays secret."""

    ssl: bool
    host: str
    port: int
    username: str | None
    password: SecretStr | None


class EmailChannel(_Model):
    """Email through an SMTP server: ``smtp://`` (STARTTLS when offered) or ``smtps://`` (TLS)."""

    type: Literal["email"]
    allow_private_targets: bool = False  # first: the URL validator reads it
    smtp_url: SecretStr
    from_: str = Field(alias="from", min_length=3)
    to: list[str] = Field(min_length=1)
    starttls: bool | None = None  # None: use STARTTLS when the server offers it
    timeout: float = Field(10.0, gt=0)

    @field_validator("smtp_url")
    @classmethod
    def _valid_url(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("must start with smtp:// or smtps://")
        if not parts.hostname:
            raise ValueError("has no host")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise ValueError("has an invalid port") from None
        problem = check_host(parts.hostname, allow_private=_allow_private(info))
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("from_", "to")
    @classmethod
    def _one_line_addresses(cls, value: str | list[str]) -> str | list[str]:
        for address in [value] if isinstance(value, str) else value:
            if any(ord(c) < 0x20 or ord(c) == 0x7F for c in address):
                raise ValueError("an address cannot hold control characters (a line break would end the header)")
        return value

    def target(self) -> SmtpTarget:
        parts = urlsplit(self.smtp_url.get_secret_value())
        ssl = parts.scheme == "smtps"
        return SmtpTarget(
            ssl=ssl,
            host=parts.hostname or "",
            port=parts.port or (465 if ssl else 25),
            username=unquote(parts.username) if parts.username else None,
            password=SecretStr(unquote(parts.password)) if parts.password else None,
        )

    def describe(self) -> dict[str, Any]:
        target = self.target()
        return {"type": "email", "host": target.host, "port": target.port, "from": self.from_, "to": self.to}


class WebhookChannel(_Model):
    """A generic webhook: the alert is POSTed as JSON to ``url`` with optional ``headers``."""

    type: Literal["webhook"]
    allow_private_targets: bool = False  # first: the URL validator reads it
    url: SecretStr
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    timeout: float = Field(10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        _http_target(value.get_secret_value(), info)
        return value

    def describe(self) -> dict[str, Any]:
        return {"type": "webhook", "host": urlsplit(self.url.get_secret_value()).hostname}


class ConsoleChannel(_Model):
    """One readable line per alert on stdout or stderr (the default when nothing is configured)."""

    type: Literal["console"]
    stream: Literal["stdout", "stderr"] = "stdout"

    def describe(self) -> dict[str, Any]:
        return {"type": "console", "stream": self.stream}


Channel = Annotated[SlackChannel | EmailChannel | WebhookChannel | ConsoleChannel, Field(discriminator="type")]
