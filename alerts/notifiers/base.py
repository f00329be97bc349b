"""What every notifier receives and promises.

A notifier turns one ``AlertMessage`` into one notification, synchronously, and
either returns (delivered) or raises ``NotifyError`` saying whether to retry and
when. It never retries by itself: the outbox owns retries, so a retry survives a
restart and is never sent twice by two layers.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote

from alerts._text import format_value
from alerts.transition import Transition, number_from_json
from emitter.events import json_number

__all__ = ["AlertMessage", "Notifier", "format_value", "parse_retry_after"]


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """An alert transition as channels render it, with the dashboard link.

    >>> msg = AlertMessage.from_transition(transition, public_url="https://runwatch.example.com")
    >>> msg.link
    'https://runwatch.example.com/runs/3f2a...'
    """

    id: str  # unique per notification (key#episode.seq): receivers can deduplicate on it
    key: str  # the (rule, run) dedup key
    rule: str
    run_id: str
    state: str  # firing | resolved
    repeat: bool
    severity: str
    title: str
    text: str
    kind: str
    at: float
    run_name: str | None = None
    project: str | None = None
    metric: str | None = None
    value: float | None = None
    step: int | None = None
    link: str | None = None
    digest: dict[str, Any] | None = None  # kind "digest": the report, rendered by ``alerts.digest_render``

    @classmethod
    def from_transition(cls, transition: Transition, public_url: str | None = None) -> AlertMessage:
        # the run id is anyone's string: quoted, it can end neither the URL nor a Slack <url|text> link
        link = f"{public_url.rstrip('/')}/runs/{quote(transition.run_id, safe='')}" if public_url else None
        link = link if transition.run_id else public_url  # a digest without a best run links the dashboard
        return cls(
            id=transition.id,
            key=transition.key,
            rule=transition.rule,
            run_id=transition.run_id,
            state=transition.state,
            repeat=transition.repeat,
            severity=transition.severity,
            title=transition.title,
            text=transition.text,
            kind=transition.kind,
            at=transition.at,
            run_name=transition.run_name,
            project=transition.project,
            metric=transition.metric,
            value=transition.value,
            step=transition.step,
            link=link,
            digest=transition.digest,
        )

    @property
    def run_label(self) -> str:
        return self.run_name or self.run_id

    @property
    def headline(self) -> str:
        """``[FIRING critical] loss-nan: loss is NaN`` — the one line every channel starts with."""
        if self.kind == "digest":
            return self.title  # ``Digest nightly: new best val/acc 0.93 (resnet-12)``
        state = "RESOLVED" if self.state == "resolved" else "REPEAT" if self.repeat else "FIRING"
        return f"[{state} {self.severity}] {self.rule}: {self.title}"

    def to_dict(self) -> dict[str, Any]:
        """Strict JSON (a non-finite value is spelled ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``)."""
        data = asdict(self)
        data["value"] = json_number(self.value)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertMessage:
        values = dict(data)
        if values.get("value") is not None:
            values["value"] = number_from_json(values["value"])
        return cls(**values)


@runtime_checkable
class Notifier(Protocol):
    """Sends one message to one channel; raises ``NotifyError`` when it could not."""

    name: str

    def send(self, message: AlertMessage) -> None: ...


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
