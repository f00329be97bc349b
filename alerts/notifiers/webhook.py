"""A generic webhook: each alert is POSTed as JSON (``{"version": 1, "alert": {...}}``).

Receivers can deduplicate on ``alert.id``: the outbox delivers at least once, and
a crash between the POST and recording it sends the same id again.
"""

from __future__ import annotations

import json
import threading

import httpx

from alerts.channels import WebhookChannel
from alerts.errors import NotifyError
from alerts.notifiers.base import AlertMessage, parse_retry_after

__all__ = ["WebhookNotifier"]

PAYLOAD_VERSION = 1


class WebhookNotifier:
    """POSTs alerts to one URL with httpx; 2xx is success.

    >>> notifier = WebhookNotifier("hooks", WebhookChannel(type="webhook", url="https://example.com/hook"))
    >>> notifier.send(message)
    """

    def __init__(self, name: str, config: WebhookChannel) -> None:
        self.name = name
        self.config = config
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                headers = {k: v.get_secret_value() for k, v in self.config.headers.items()}
                headers.setdefault("User-Agent", "runwatch-alerts")
                self._client = httpx.Client(timeout=self.config.timeout, headers=headers, follow_redirects=False)
            return self._client

    def send(self, message: AlertMessage) -> None:
        body = json.dumps({"version": PAYLOAD_VERSION, "alert": message.to_dict()}, allow_nan=False)
        try:
            response = self._http().post(
                self.config.url.get_secret_value(), content=body, headers={"Content-Type": "application/json"}
            )
        except httpx.HTTPError as exc:
            # str(exc) can contain the URL (a secret): name the error type only
            raise NotifyError(self.name, None, f"cannot reach webhook: {type(exc).__name__}") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        detail = response.text.strip()[:200] or response.reason_phrase
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            raise NotifyError(self.name, status, "rate limited", retry_after=retry_after or 1.0)
        raise NotifyError(self.name, status, detail, permanent=400 <= status < 500 and status != 408)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __repr__(self) -> str:
        return f"<WebhookNotifier {self.name!r}>"
