"""Exceptions raised by the alerts package.

Every error the package raises on purpose derives from one base, so a caller can
catch the lot::

    AlertsError
    ├── RuleError      a rules file that cannot be used: names file, line, rule, field
    └── NotifyError    a notification a channel did not accept: says whether to retry

Messages never contain a secret: rule errors quote only what the user typed in the
file (before ``${VAR}`` expansion), and notifier errors carry the channel's name,
never its URL or token.
"""

from __future__ import annotations

__all__ = ["AlertsError", "NotifyError", "RuleError"]


class AlertsError(Exception):
    """Base class of every error raised by ``alerts``."""


class RuleError(AlertsError):
    """A rules file that does not validate.

    ``str(error)`` reads like a compiler message, for example
    ``alerts.yaml:12: rule 'diverging': field 'condition': cannot parse '>> 10'``.
    When a file has several problems the first is raised and all of them (itself
    included) are in ``errors``; the message lists them one per line.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str = "<string>",
        line: int | None = None,
        rule: str | None = None,
        channel: str | None = None,
        field: str | None = None,
        digest: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.rule = rule
        self.channel = channel
        self.field = field
        self.digest = digest
        self.errors: list[RuleError] = [self]
        super().__init__(self.describe())

    def describe(self) -> str:
        """This one problem as a single line (``__str__`` adds the others)."""
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        parts = [where]
        if self.rule is not None:
            parts.append(f"rule {self.rule!r}")
        if self.channel is not None:
            parts.append(f"channel {self.channel!r}")
        if self.digest is not None:
            parts.append(f"digest {self.digest!r}")
        if self.field is not None:
            parts.append(f"field {self.field!r}")
        parts.append(self.message)
        return ": ".join(parts)

    @classmethod
    def collect(cls, errors: list[RuleError]) -> RuleError:
        """One error to raise for many: the first, carrying all of them."""
        first = errors[0]
        first.errors = list(errors)
        if len(errors) > 1:
            lines = [first.describe()] + [e.describe() for e in errors[1:]]
            first.args = ("\n".join(lines),)
        return first

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.describe()


class NotifyError(AlertsError):
    """A channel refused or failed a notification.

    ``permanent`` errors (a 4xx other than 429: a revoked webhook, a bad token, an
    unknown channel) are recorded and not retried; the others are retried by the
    outbox with backoff, never before ``retry_after`` seconds when the service said so.
    """

    def __init__(
        self,
        channel: str,
        status: int | None,
        detail: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.channel = channel
        self.status = status
        self.detail = detail
        self.permanent = permanent
        self.retry_after = retry_after
        status_text = f" (HTTP {status})" if status is not None else ""
        kind = "permanent failure" if permanent else "failed"
        retry = f", retry after {retry_after:g}s" if retry_after is not None else ""
        super().__init__(f"channel {channel!r} {kind}{status_text}: {detail}{retry}")
