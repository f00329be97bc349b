"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives.

Use it as a context manager (or the ``smtp_sink`` fixture), send to ``127.0.0.1:sink.port``,
then ``sink.wait_for(n)`` returns the ``ReceivedMail`` so far (``.message`` is an EmailMessage).
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Self

from aiosmtpd.controller import Controller

__all__ = ["ReceivedMail", "SmtpSink", "free_port"]


def free_port() -> int:
    """A port free right now on 127.0.0.1 (aiosmtpd's Controller cannot take port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    received_at: float


class SmtpSink:
    """aiosmtpd ``Controller`` with a recording handler; ``reject_rcpt`` scripts a refusal."""

    def __init__(self) -> None:
        self.received: list[ReceivedMail] = []
        self.reject_rcpt: str | None = None  # e.g. "550 5.1.1 no such user"
        self._cond = threading.Condition()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    # aiosmtpd handler hooks
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.reject_rcpt:
            return self.reject_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self._cond:
            self.received.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message, time.time()))
            self._cond.notify_all()
        return "250 Message accepted"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(self.received)} of {count} emails after {timeout}s")
                self._cond.wait(remaining)
            return list(self.received)

    def start(self) -> Self:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
