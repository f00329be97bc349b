"""The console channel: one readable line per alert (what ``runwatch demo`` shows)."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from alerts._text import one_line
from alerts.channels import ConsoleChannel
from alerts.notifiers.base import AlertMessage, format_value

__all__ = ["ConsoleNotifier", "format_line"]


class ConsoleNotifier:
    """Prints alerts to stdout (or stderr), one line each.

    >>> ConsoleNotifier("console").send(message)
    [FIRING critical] loss-nan: loss is NaN — run resnet-7 (vision) loss=NaN step=3 → http://127.0.0.1:8765/runs/…
    """

    def __init__(
        self, name: str = "console", config: ConsoleChannel | None = None, *, out: TextIO | None = None
    ) -> None:
        self.name = name
        self.config = config or ConsoleChannel(type="console")
        self._out = out
        self._lock = threading.Lock()

    def send(self, message: AlertMessage) -> None:
        # resolved at send time, so pytest's capsys and redirected streams see the line
        out = self._out or (sys.stderr if self.config.stream == "stderr" else sys.stdout)
        with self._lock:
            out.write(format_line(message) + "\n")
            out.flush()

    def __repr__(self) -> str:
        return f"<ConsoleNotifier {self.name!r} {self.config.stream}>"


def format_line(message: AlertMessage) -> str:
    """The alert as one terminal line; control characters (ESC sequences, CR) are shown escaped, never obeyed."""
    line = f"{message.headline} — run {message.run_label}"
    if message.project:
        line += f" ({message.project})"
    if message.metric is not None:
        line += f" {message.metric}={format_value(message.value)}"
        if message.step is not None:
            line += f" step={message.step}"
    if message.link:
        line += f" → {message.link}"
    return one_line(line)
