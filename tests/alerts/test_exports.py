"""The public surface of ``alerts`` is exactly ``__all__``."""

from __future__ import annotations

import alerts
import alerts.notifiers


def test_all_names_exist_and_are_sorted() -> None:
    for module in (alerts, alerts.notifiers):
        assert module.__all__ == sorted(module.__all__)
        for name in module.__all__:
            assert hasattr(module, name), name


def test_public_api() -> None:
    assert set(alerts.__all__) == {
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
    }


def test_alerts_imports_emitter_but_never_the_collector() -> None:
    import pathlib

    root = pathlib.Path(alerts.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text()
        assert "import collector" not in text and "from collector" not in text, path
