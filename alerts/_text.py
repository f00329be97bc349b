"""How alert transitions read: titles and texts, the same in every channel, and safe to show.

Names and texts come from training code and from anyone who can write to the event
stream, so every channel passes them through ``one_line`` (a terminal line, an email
header) or ``multi_line`` (a message body) before its own markup escaping: control
characters — ESC sequences a terminal obeys, CR/LF that end a mail header, C1 codes,
Unicode line separators and bidi overrides — are shown as visible escapes (``\\x1b``),
never passed on.
"""

from __future__ import annotations

import math
import re

from alerts.rules import Rule, RuleKind

__all__ = ["format_value", "multi_line", "one_line", "text_for", "title_for"]

# C0 but tab, DEL, C1, the Unicode line and paragraph separators, bidi embeddings/overrides/isolates
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_LINE_BREAK = re.compile("\r\n|[\r\n\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` as one line: line breaks and tabs become spaces, other control characters escapes."""
    return _CONTROL.sub(_visible, _LINE_BREAK.sub(" ", text).replace("\t", " "))


def multi_line(text: str) -> str:
    """``text`` as lines joined by ``\n`` (CR LF, CR alone and U+2028 end a line); other controls escaped."""
    return "\n".join(_CONTROL.sub(_visible, line) for line in _LINE_BREAK.split(text))


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def title_for(rule: Rule, state: str, status: str | None, value: float | None, metric: str | None) -> str:
    """The one-line title; ``metric`` is the series (a pattern rule's match, else the rule's metric)."""
    kind = rule.kind
    if state == "resolved":
        return {
            RuleKind.HEARTBEAT_LOST: "run is sending events again",
            RuleKind.NO_PROGRESS: "run is making progress again",
            RuleKind.NO_IMPROVEMENT: f"{metric} improved",
            RuleKind.NONFINITE: f"{metric} is finite again",
        }.get(kind, f"{metric} {rule.condition} no longer holds")
    if kind == RuleKind.NONFINITE:
        return f"{metric} is {format_value(value) if value is not None else 'not finite'}"
    if kind == RuleKind.THRESHOLD:
        n = rule.points_needed
        return f"{metric} {rule.condition}" + (f" for {n} points" if n > 1 else "")
    if kind == RuleKind.NO_IMPROVEMENT:
        return f"{metric} has not improved for {rule.patience} points"
    if kind == RuleKind.NEW_BEST:
        return f"{metric}: new best {format_value(value)}"
    if kind == RuleKind.STATUS:
        return f"run {status}"
    if kind == RuleKind.HEARTBEAT_LOST:
        return f"run lost: no events for {_duration(rule.after)}"
    if kind == RuleKind.NO_PROGRESS:
        return f"run stalled: no new step for {_duration(rule.after)}"
    return rule.name


def text_for(metric: str | None, value: float | None, step: int | None, extra: str) -> str:
    parts = []
    if metric is not None and value is not None:
        parts.append(f"{metric} = {format_value(value)}" + (f" at step {step}" if step is not None else ""))
    if extra:
        parts.append(extra)
    return "; ".join(parts)


def format_value(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.6g}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
