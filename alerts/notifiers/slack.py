"""Slack, through slack-sdk: an incoming webhook or ``chat.postMessage`` with a bot token.

The clients (``_slack_http``) follow no redirect and log nothing, and are built with
no retry handlers: slack-sdk's rate-limit handler sleeps ``Retry-After`` in the calling
thread, and its connection handler retries once — both would hide from the outbox what
happened. Instead every outcome maps to a ``NotifyError``: 429 carries ``retry_after``,
3xx and other 4xx (a redirect, revoked webhook, bad token, unknown channel) are
permanent, 5xx and connection errors are retried.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError

from alerts._text import multi_line, one_line
from alerts.channels import SlackChannel
from alerts.digest_render import digest_blocks
from alerts.errors import NotifyError
from alerts.notifiers._slack_http import NoRedirectWebClient, NoRedirectWebhookClient, silent_logger
from alerts.notifiers.base import AlertMessage, format_value, parse_retry_after

__all__ = ["SlackNotifier", "slack_blocks"]

# slack-sdk logs request URLs, and a webhook URL is a secret: its logger drops everything.
_sdk_logger = silent_logger()

_EMOJI = {
    "critical": ":rotating_light:",
    "error": ":red_circle:",
    "warning": ":warning:",
    "info": ":information_source:",
}
_REDIRECT = "redirect refused (Slack never redirects: check the channel's URL)"
# chat.postMessage errors worth another try; every other error code is permanent
_RETRYABLE = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"})


class SlackNotifier:
    """Posts Block Kit messages to one Slack channel.

    >>> notifier = SlackNotifier("ml-team", SlackChannel(type="slack", webhook_url="https://hooks.slack.com/..."))
    >>> notifier.send(message)          # raises NotifyError when Slack says no
    """

    def __init__(self, name: str, config: SlackChannel) -> None:
        self.name = name
        self.config = config
        self._webhook: NoRedirectWebhookClient | None = None
        self._web: NoRedirectWebClient | None = None
        timeout = int(max(1, config.timeout))
        if config.webhook_url is not None:
            url = config.webhook_url.get_secret_value()
            self._webhook = NoRedirectWebhookClient(url=url, timeout=timeout, retry_handlers=[], logger=_sdk_logger)
        else:
            assert config.token is not None
            self._web = NoRedirectWebClient(
                token=config.token.get_secret_value(),
                base_url=config.api_url,
                timeout=timeout,
                retry_handlers=[],
                logger=_sdk_logger,
            )

    def send(self, message: AlertMessage) -> None:
        text = _mrkdwn(message.headline)
        blocks = digest_blocks(message) if message.digest is not None else slack_blocks(message)
        if self._webhook is not None:
            self._send_webhook(text, blocks)
        else:
            self._send_web(text, blocks)

    def _send_webhook(self, text: str, blocks: list[dict[str, Any]]) -> None:
        assert self._webhook is not None
        try:
            response = self._webhook.send(text=text, blocks=blocks)
        except (OSError, SlackClientError) as exc:
            raise NotifyError(self.name, None, f"cannot reach Slack: {type(exc).__name__}") from None
        status = response.status_code
        if status == 200:
            return
        if 300 <= status < 400:
            raise NotifyError(self.name, status, _REDIRECT, permanent=True)
        detail = (response.body or "").strip()[:200] or "no body"
        if status == 429:
            retry_after = parse_retry_after(_header(response.headers, "retry-after"))
            raise NotifyError(self.name, status, "rate limited", retry_after=retry_after if retry_after else 1.0)
        raise NotifyError(self.name, status, detail, permanent=400 <= status < 500)

    def _send_web(self, text: str, blocks: list[dict[str, Any]]) -> None:
        assert self._web is not None
        try:
            self._web.chat_postMessage(channel=self.config.channel or "", text=text, blocks=blocks)
        except SlackApiError as exc:
            response = exc.response
            status = int(response.status_code)
            if 300 <= status < 400:
                raise NotifyError(self.name, status, _REDIRECT, permanent=True) from None
            error = str(response.get("error") or "") if isinstance(response.data, dict) else ""
            if status == 429 or error == "ratelimited":
                retry_after = parse_retry_after(_header(response.headers, "retry-after"))
                raise NotifyError(self.name, status, "rate limited", retry_after=retry_after or 1.0) from None
            permanent = 400 <= status < 500 or (status == 200 and error not in _RETRYABLE)
            raise NotifyError(self.name, status, error or f"HTTP {status}", permanent=permanent) from None
        except (OSError, SlackClientError) as exc:
            raise NotifyError(self.name, None, f"cannot reach Slack: {type(exc).__name__}") from None

    def __repr__(self) -> str:
        via = "webhook" if self._webhook is not None else f"chat.postMessage {self.config.channel}"
        return f"<SlackNotifier {self.name!r} via {via}>"


def slack_blocks(message: AlertMessage) -> list[dict[str, Any]]:
    """Block Kit: a header, the facts as fields, the details, and the run link.

    Every string a user or training script controls goes through ``_mrkdwn`` (control
    characters shown escaped, then ``&``, ``<``, ``>``), so it can neither mention
    ``@channel`` nor open or close a ``<url|text>`` link; ``plain_text`` gets ``one_line``.
    """
    emoji = ":white_check_mark:" if message.state == "resolved" else _EMOJI.get(message.severity, ":bell:")
    state = "Resolved" if message.state == "resolved" else "Repeat" if message.repeat else "Firing"
    run = _mrkdwn(message.run_label)
    if message.link:
        run = f"<{_link(message.link)}|{run}>"
    fields = [
        ("Rule", _mrkdwn(message.rule)),
        ("Run", run),
        ("Project", _mrkdwn(message.project or "-")),
        ("Severity", _mrkdwn(message.severity)),
    ]
    if message.metric is not None:
        fields += [("Metric", _mrkdwn(message.metric)), ("Value", format_value(message.value))]
        fields.append(("Step", str(message.step) if message.step is not None else "-"))
    header = one_line(f"{state}: {message.title}")[:150]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{emoji} *{_mrkdwn(message.title)}*"[:3000]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"[:2000]} for k, v in fields]},
    ]
    if message.text:
        text = _escape(multi_line(message.text))[:3000]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if message.link:
        button = {"type": "button", "text": {"type": "plain_text", "text": "Open run"}, "url": one_line(message.link)}
        blocks.append({"type": "actions", "elements": [button]})
    context = f"runwatch · `{_mrkdwn(message.id)}`"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return blocks


def _mrkdwn(text: str) -> str:
    """One line of user text for mrkdwn: control characters escaped, then Slack's three."""
    return _escape(one_line(text))


def _escape(text: str) -> str:
    """Slack mrkdwn's three control characters, so run names cannot inject links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str) -> str:
    """A URL inside ``<url|text>``: escaped like text, and a ``|`` cannot end it early."""
    return _escape(one_line(url)).replace("|", "%7C")


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) else value)
    return None
