"""The value types of a rules file: durations, severities and metric conditions."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict

__all__ = ["Condition", "Duration", "Severity", "canonical_severity", "parse_duration"]

Severity = Literal["info", "warning", "error", "critical"]
_SEVERITY_ALIASES = {"warn": "warning", "crit": "critical", "err": "error"}

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> float:
    """Seconds from ``90``, ``"60s"``, ``"15m"``, ``"1h30m"``, ``"500ms"``; ``"never"`` is infinity."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 60s, 15m or 1h")  # noqa: TRY004 - pydantic wants ValueError
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip().lower() == "never":
        return math.inf
    elif isinstance(value, str) and value.strip() and _DURATION_PART.sub("", value.strip().replace(" ", "")) == "":
        text = value.strip().replace(" ", "")
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(text))
    else:
        raise ValueError(f"cannot parse duration {value!r} (expected e.g. 60s, 15m, 1h)")
    if not seconds > 0 or not math.isfinite(seconds):
        raise ValueError("a duration must be positive")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]

_COMPARISON = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?))\s*$")


class Condition(BaseModel):
    """A metric condition: ``nonfinite``, a comparison such as ``"> 10"``, ``no_improvement`` or ``new_best``."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["nonfinite", "compare", "no_improvement", "new_best"]
    op: Literal[">", ">=", "<", "<=", "==", "!="] | None = None
    threshold: float | None = None

    @classmethod
    def parse(cls, text: Any) -> Condition:
        if isinstance(text, Condition):
            return text
        if not isinstance(text, str):
            raise ValueError(f'cannot parse {text!r}: quote comparisons, e.g. "> 10"')  # noqa: TRY004
        word = text.strip()
        if word in ("nonfinite", "no_improvement", "new_best"):
            return cls(kind=word)
        match = _COMPARISON.match(text)
        if match is None:
            raise ValueError(
                f'cannot parse {text!r} (expected nonfinite, no_improvement, new_best or a comparison like "> 10")'
            )
        return cls(kind="compare", op=match.group(1), threshold=float(match.group(2)))

    def matches(self, value: float) -> bool:
        """Whether a point matches; comparisons never match NaN (that is ``nonfinite``'s job)."""
        if self.kind == "nonfinite":
            return not math.isfinite(value)
        if self.kind != "compare" or self.threshold is None or math.isnan(value):
            return False
        t = self.threshold
        return {">": value > t, ">=": value >= t, "<": value < t, "<=": value <= t, "==": value == t, "!=": value != t}[
            self.op or ">"
        ]

    def __str__(self) -> str:
        return f"{self.op} {self.threshold:g}" if self.kind == "compare" else self.kind


def canonical_severity(value: Any) -> Any:
    """``warn``, ``crit`` and ``err`` as the severities they stand for (a ``BeforeValidator``)."""
    return _SEVERITY_ALIASES.get(value, value) if isinstance(value, str) else value
