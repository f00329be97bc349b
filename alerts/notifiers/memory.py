"""``MemoryNotifier``: a real notifier that keeps what it is sent (for tests and demos)."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from alerts.errors import NotifyError
from alerts.notifiers.base import AlertMessage

__all__ = ["MemoryNotifier"]


class MemoryNotifier:
    """Collects messages; can be scripted to fail first.

    >>> notifier = MemoryNotifier("ml-team", failures=[NotifyError("ml-team", 503, "down")])
    >>> # the first send raises the scripted error, the next ones are recorded
    >>> notifier.messages   # delivered messages, in order
    []
    """

    def __init__(self, name: str = "memory", failures: Iterable[NotifyError] = ()) -> None:
        self.name = name
        self.messages: list[AlertMessage] = []
        self.attempts = 0
        self._failures = list(failures)
        self._lock = threading.Lock()

    def fail_next(self, *errors: NotifyError) -> None:
        with self._lock:
            self._failures.extend(errors)

    def send(self, message: AlertMessage) -> None:
        with self._lock:
            self.attempts += 1
            if self._failures:
                raise self._failures.pop(0)
            self.messages.append(message)

    def __repr__(self) -> str:
        return f"<MemoryNotifier {self.name!r} sent={len(self.messages)} attempts={self.attempts}>"
