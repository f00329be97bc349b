"""Alerts: rules as code, a pure streaming rule engine, and notifiers behind an outbox.

The collector wires them together::

    ruleset = alerts.load_rules(settings.alerts_path)          # RuleError names line, rule, field
    state = alerts.AlertState.from_json(stored_state)
    transitions = alerts.evaluate(ruleset, state, applied_events, now, runs=lookup)
    store.add_deliveries(alerts.deliveries_for(transitions, now))   # same transaction as the events
    worker = alerts.DeliveryWorker(store, alerts.build_notifiers(ruleset), public_url=url)

``alerts`` imports ``emitter`` (the event contract) and nothing of the collector:
where it needs storage it defines a Protocol (``OutboxStore``) for the store to implement.
"""

from __future__ import annotations

from alerts.channels import ConsoleChannel, EmailChannel, SlackChannel, WebhookChannel
from alerts.engine import Liveness, RunInfo, Transition, evaluate, evaluate_timers, lost_status_event
from alerts.errors import AlertsError, NotifyError, RuleError
from alerts.memory_outbox import MemoryOutbox
from alerts.notifiers import AlertMessage, MemoryNotifier, Notifier, build_notifier, build_notifiers
from alerts.outbox import Backoff, Delivery, DeliveryStatus, DeliveryWorker, OutboxStore, deliveries_for
from alerts.rules import Rule, RuleKind, RuleSet
from alerts.rules_file import load_rules, parse_rules
from alerts.silences import Silence, silencing
from alerts.state import AlertState

__all__ = [
    "AlertMessage",
    "AlertState",
    "AlertsError",
    "Backoff",
    "ConsoleChannel",
    "Delivery",
    "DeliveryStatus",
    "DeliveryWorker",
    "EmailChannel",
    "Liveness",
    "MemoryNotifier",
    "MemoryOutbox",
    "Notifier",
    "NotifyError",
    "OutboxStore",
    "Rule",
    "RuleError",
    "RuleKind",
    "RuleSet",
    "RunInfo",
    "Silence",
    "SlackChannel",
    "Transition",
    "WebhookChannel",
    "build_notifier",
    "build_notifiers",
    "deliveries_for",
    "evaluate",
    "evaluate_timers",
    "load_rules",
    "lost_status_event",
    "parse_rules",
    "silencing",
]
