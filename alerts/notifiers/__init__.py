"""Notifiers: one per channel type, all behind the ``Notifier`` protocol.

``build_notifier`` makes one from a channel's configuration; ``build_notifiers``
makes every channel of a rule set.
"""

from __future__ import annotations

from alerts.channels import Channel, ConsoleChannel, EmailChannel, SlackChannel, WebhookChannel
from alerts.notifiers.base import AlertMessage, Notifier
from alerts.notifiers.console import ConsoleNotifier
from alerts.notifiers.email import EmailNotifier
from alerts.notifiers.memory import MemoryNotifier
from alerts.notifiers.slack import SlackNotifier
from alerts.notifiers.webhook import WebhookNotifier
from alerts.rules import RuleSet

__all__ = [
    "AlertMessage",
    "ConsoleNotifier",
    "EmailNotifier",
    "MemoryNotifier",
    "Notifier",
    "SlackNotifier",
    "WebhookNotifier",
    "build_notifier",
    "build_notifiers",
]


def build_notifier(name: str, config: Channel) -> Notifier:
    """The notifier for one configured channel."""
    if isinstance(config, SlackChannel):
        return SlackNotifier(name, config)
    if isinstance(config, EmailChannel):
        return EmailNotifier(name, config)
    if isinstance(config, WebhookChannel):
        return WebhookNotifier(name, config)
    if isinstance(config, ConsoleChannel):
        return ConsoleNotifier(name, config)
    raise TypeError(f"no notifier for channel type {type(config).__name__}")


def build_notifiers(ruleset: RuleSet) -> dict[str, Notifier]:
    """A notifier for every channel of a rule set, by channel name."""
    return {name: build_notifier(name, config) for name, config in ruleset.channels.items()}
