"""slack-sdk's clients, minus the two things a notifier must not do: follow redirects, and log.

slack-sdk sends through ``urllib``, whose default opener follows redirects — and on
a 301/302/303 it replays the request's headers, a bot's ``Authorization: Bearer
xoxb-…`` included, to whatever host ``Location`` names. Slack never redirects its
API or its webhooks, so a 3xx means a wrong URL or a hostile one: these clients open
requests without a redirect handler, urllib raises the 3xx as an ``HTTPError``, and
slack-sdk hands it back as a response with that status (the notifier makes it a
permanent ``NotifyError``).

The override replaces one private method of each client (the one that opens the
request); ``tests/alerts/test_slack.py`` proves the redirect is refused, so an SDK
that renames it fails the tests instead of silently following redirects again.

slack-sdk also logs the request URL (for a webhook, the secret) at DEBUG and the
error text at ERROR: its logger here drops every record. The outbox reports every
outcome itself, from the ``NotifyError`` (which never carries a URL or token).
"""

from __future__ import annotations

import logging
import ssl as ssl_module
import urllib.request
from typing import Any
from urllib.request import HTTPRedirectHandler, HTTPSHandler, OpenerDirector, ProxyHandler, Request

from slack_sdk import WebClient
from slack_sdk.errors import SlackRequestError
from slack_sdk.webhook import WebhookClient, WebhookResponse

__all__ = ["NoRedirectWebClient", "NoRedirectWebhookClient", "silent_logger"]


def silent_logger() -> logging.Logger:
    """The logger handed to slack-sdk: above CRITICAL and filtering everything out."""
    logger = logging.getLogger("alerts.notifiers.slack.sdk")
    logger.setLevel(logging.CRITICAL + 1)
    if not any(isinstance(f, _DropAll) for f in logger.filters):
        logger.addFilter(_DropAll())
    return logger


class _DropAll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


class _RefuseRedirects(HTTPRedirectHandler):
    """No ``Location`` is followed: urllib then raises the 3xx as an ``HTTPError``."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _open(req: Request, url: str, *, context: ssl_module.SSLContext | None, proxy: str | None, timeout: int) -> Any:
    if not url.lower().startswith(("http://", "https://")):  # urllib would open file:// and ftp:// too
        raise SlackRequestError("only http:// and https:// URLs are opened")
    handlers: list[Any] = [_RefuseRedirects(), HTTPSHandler(context=context)]
    if proxy:
        handlers.append(ProxyHandler({"http": proxy, "https": proxy}))
    opener: OpenerDirector = urllib.request.build_opener(*handlers)
    return opener.open(req, timeout=timeout)


class NoRedirectWebhookClient(WebhookClient):
    """``WebhookClient`` that refuses redirects."""

    def _perform_http_request_internal(self, url: str, req: Request) -> WebhookResponse:
        with _open(req, url, context=self.ssl, proxy=self.proxy, timeout=self.timeout) as response:
            charset = response.headers.get_content_charset() or "utf-8"
            body = response.read().decode(charset)
            return WebhookResponse(url=url, status_code=response.status, body=body, headers=response.headers)


class NoRedirectWebClient(WebClient):
    """``WebClient`` (``chat.postMessage``) that refuses redirects, so its token stays with Slack."""

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        with _open(req, url, context=self.ssl, proxy=self.proxy, timeout=self.timeout) as response:
            charset = response.headers.get_content_charset() or "utf-8"
            return {"status": response.code, "headers": response.headers, "body": response.read().decode(charset)}
