"""Alert rules as code: the YAML file, validated into pydantic models.

The file has three top-level keys, in the spirit of Prometheus rules::

    channels:
      ml-team: {type: slack, webhook_url: ${SLACK_WEBHOOK_URL}}
    rules:
      - {name: loss-nan,  metric: loss, condition: nonfinite, severity: critical, notify: [ml-team]}
      - {name: diverging, metric: loss, condition: "> 10", for: 3}
      - {name: lost,      on: heartbeat_lost, after: 60s}
    defaults: {repeat_interval: 1h, send_resolved: true}

Errors read like a compiler's — ``alerts.yaml:12: rule 'diverging': field
'condition': cannot parse '>> 10'`` — because a rules file is code that someone edits
at 2 a.m. when an alert misfired. ``docs/alerts.md`` documents every field.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from alerts import _yaml
from alerts.channels import Channel, ConsoleChannel
from alerts.errors import RuleError
from emitter.events import RunStatus

__all__ = [
    "Condition",
    "Defaults",
    "Rule",
    "RuleKind",
    "RuleSet",
    "Severity",
    "load_rules",
    "parse_duration",
    "parse_rules",
]

Severity = Literal["info", "warning", "error", "critical"]
DEFAULT_CONSOLE = "console"
_SEVERITY_ALIASES = {"warn": "warning", "crit": "critical", "err": "error"}


class RuleKind(StrEnum):
    """What a rule watches; derived from ``condition`` (metric rules) or ``on``."""

    NONFINITE = "nonfinite"
    THRESHOLD = "threshold"
    NO_IMPROVEMENT = "no_improvement"
    NEW_BEST = "new_best"
    STATUS = "status"
    HEARTBEAT_LOST = "heartbeat_lost"
    NO_PROGRESS = "no_progress"
    USER_ALERT = "user_alert"


# ----------------------------------------------------------------- value types

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
            return cls(kind=word)  # type: ignore[arg-type]
        match = _COMPARISON.match(text)
        if match is None:
            raise ValueError(
                f'cannot parse {text!r} (expected nonfinite, no_improvement, new_best or a comparison like "> 10")'
            )
        return cls(kind="compare", op=match.group(1), threshold=float(match.group(2)))  # type: ignore[arg-type]

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


def _severity(value: Any) -> Any:
    return _SEVERITY_ALIASES.get(value, value) if isinstance(value, str) else value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Rule(_Model):
    """One rule. Metric rules set ``metric`` + ``condition``; event rules set ``on``.

    >>> rule = parse_rules('rules: [{name: nan, metric: loss, condition: nonfinite}]').rules[0]
    >>> rule.kind, rule.condition.matches(float("nan"))
    (<RuleKind.NONFINITE: 'nonfinite'>, True)
    """

    name: str = Field(min_length=1)
    metric: str | None = None
    condition: Annotated[Condition | None, BeforeValidator(lambda v: None if v is None else Condition.parse(v))] = None
    mode: Literal["min", "max"] | None = None
    patience: int | None = Field(None, ge=1)
    min_delta: float = Field(0.0, ge=0)
    for_: int | None = Field(None, alias="for", ge=1)
    on: Literal["status", "heartbeat_lost", "no_progress", "user_alert"] | None = None
    status: list[RunStatus] | None = None
    after: Duration | None = None
    severity: Annotated[Severity | None, BeforeValidator(_severity)] = None
    notify: list[str] | None = None
    description: str | None = None
    # run selectors: all given ones must match
    project: str | None = None
    run_name: str | None = None
    tags: list[str] = Field(default_factory=list)
    # per-rule overrides of ``defaults``
    repeat_interval: Duration | None = None
    send_resolved: bool | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _one_status(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @property
    def kind(self) -> RuleKind:
        if self.on is not None:
            return RuleKind(self.on)
        if self.condition is None or self.condition.kind == "compare":
            return RuleKind.THRESHOLD
        return RuleKind(self.condition.kind)

    @property
    def points_needed(self) -> int:
        """``for: N`` — consecutive matching points before firing (1 by default)."""
        return self.for_ or 1

    @property
    def statuses(self) -> frozenset[str]:
        """Statuses a ``status`` rule fires on (default: every end of a run, ``lost`` included)."""
        if self.status:
            return frozenset(s.value for s in self.status)
        return frozenset({RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED, RunStatus.LOST})

    def selects(self, project: str | None, name: str | None, tags: frozenset[str] | set[str]) -> bool:
        """Whether this rule applies to a run (globs on project and run name, all tags present)."""
        if self.project is not None and not fnmatchcase(project or "", self.project):
            return False
        if self.run_name is not None and not fnmatchcase(name or "", self.run_name):
            return False
        return all(tag in tags for tag in self.tags)


class Defaults(_Model):
    """Settings every rule inherits unless it sets its own."""

    repeat_interval: Duration = 4 * 3600.0
    send_resolved: bool = False
    notify: list[str] | None = None  # None: every configured channel
    severity: Annotated[Severity, BeforeValidator(_severity)] = "warning"


class _RuleFile(_Model):
    allow_private_targets: bool = False  # for every channel; each may also set its own
    channels: dict[str, Channel] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    defaults: Defaults = Field(default_factory=Defaults)


@dataclass(frozen=True, eq=False)
class RuleSet:
    """A validated rules file: channels by name, rules in file order, defaults.

    >>> ruleset = parse_rules("rules: [{name: lost, on: heartbeat_lost, after: 60s}]")
    >>> ruleset.notify_for(ruleset.rule("lost"))   # no channels configured: the console
    ('console',)
    """

    channels: Mapping[str, Channel]
    rules: tuple[Rule, ...]
    defaults: Defaults = field(default_factory=Defaults)
    source: str = "<string>"

    @cached_property
    def by_metric(self) -> dict[str, tuple[Rule, ...]]:
        """Metric rules indexed by metric name (the engine's hot path)."""
        index: dict[str, list[Rule]] = {}
        for rule in self.rules:
            if rule.metric is not None and rule.on is None:
                index.setdefault(rule.metric, []).append(rule)
        return {name: tuple(rules) for name, rules in index.items()}

    @cached_property
    def by_kind(self) -> dict[RuleKind, tuple[Rule, ...]]:
        index: dict[RuleKind, list[Rule]] = {}
        for rule in self.rules:
            index.setdefault(rule.kind, []).append(rule)
        return {kind: tuple(rules) for kind, rules in index.items()}

    @cached_property
    def by_name(self) -> dict[str, Rule]:
        return {rule.name: rule for rule in self.rules}

    def rule(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)

    def notify_for(self, rule: Rule) -> tuple[str, ...]:
        names = rule.notify if rule.notify is not None else self.defaults.notify
        return tuple(names) if names is not None else tuple(self.channels)

    def repeat_interval_for(self, rule: Rule) -> float:
        return rule.repeat_interval if rule.repeat_interval is not None else self.defaults.repeat_interval

    def send_resolved_for(self, rule: Rule) -> bool:
        return rule.send_resolved if rule.send_resolved is not None else self.defaults.send_resolved

    def severity_for(self, rule: Rule) -> str:
        return rule.severity or self.defaults.severity

    def describe(self) -> dict[str, Any]:
        """The rule set as plain data with every secret left out (for the API and CLI)."""
        return {
            "source": self.source,
            "channels": {name: channel.describe() for name, channel in self.channels.items()},
            "rules": [rule.model_dump(mode="json", by_alias=True, exclude_none=True) for rule in self.rules],
            "defaults": self.defaults.model_dump(mode="json", exclude_none=True),
        }


# ------------------------------------------------------------------ loading


def load_rules(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> RuleSet:
    """Read and validate a rules file; raises ``RuleError`` naming line, rule and field."""
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"cannot read rules file: {exc.strerror}", file=name) from None
    return parse_rules(text, source=name, env=env)


def parse_rules(text: str, source: str = "<string>", env: Mapping[str, str] | None = None) -> RuleSet:
    """Validate rules from YAML text; ``${VAR}`` is taken from ``env`` (default ``os.environ``)."""
    doc = _yaml.load(text, source, os.environ if env is None else env)
    data = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        raise RuleError("the file must be a mapping with channels, rules and defaults", file=source, line=1)
    errors = [_error(doc, source, path, message) for path, message in doc.problems]
    if errors:
        raise RuleError.collect(errors)
    try:
        context = {"allow_private_targets": data.get("allow_private_targets") is True}
        parsed = _RuleFile.model_validate(data, context=context)
    except ValidationError as exc:
        raise RuleError.collect([_from_pydantic(doc, source, e) for e in exc.errors()]) from None
    channels: dict[str, Channel] = dict(parsed.channels)
    if not channels:
        channels[DEFAULT_CONSOLE] = ConsoleChannel(type="console")
    ruleset = RuleSet(channels=channels, rules=tuple(parsed.rules), defaults=parsed.defaults, source=source)
    errors = [_error(doc, source, path, message) for path, message in _semantic_problems(ruleset)]
    if errors:
        raise RuleError.collect(errors)
    return ruleset


def _semantic_problems(ruleset: RuleSet) -> list[tuple[_yaml.Path, str]]:
    """What types cannot say: which fields go together, names that must resolve."""
    problems: list[tuple[_yaml.Path, str]] = []
    known = ", ".join(ruleset.channels)
    for j, name in enumerate(ruleset.defaults.notify or []):
        if name not in ruleset.channels:
            problems.append((("defaults", "notify", j), f"unknown channel {name!r} (configured: {known})"))
    seen: set[str] = set()
    for i, rule in enumerate(ruleset.rules):
        at = ("rules", i)
        if rule.name in seen:
            problems.append(((*at, "name"), f"duplicate rule name {rule.name!r}"))
        seen.add(rule.name)
        for j, name in enumerate(rule.notify or []):
            if name not in ruleset.channels:
                problems.append(((*at, "notify", j), f"unknown channel {name!r} (configured: {known})"))
        problems.extend(((*at, f), message) for f, message in _rule_problems(rule))
    return problems


def _rule_problems(rule: Rule) -> list[tuple[str, str]]:
    kind = rule.kind
    out: list[tuple[str, str]] = []
    if rule.on is not None:
        for name in ("metric", "condition", "mode", "patience", "for"):
            if (rule.for_ if name == "for" else getattr(rule, name)) is not None:
                out.append((name, f"not allowed with 'on: {rule.on}'"))
        if kind in (RuleKind.HEARTBEAT_LOST, RuleKind.NO_PROGRESS) and rule.after is None:
            out.append(("after", f"required with 'on: {rule.on}' (e.g. after: 60s)"))
        if kind not in (RuleKind.HEARTBEAT_LOST, RuleKind.NO_PROGRESS) and rule.after is not None:
            out.append(("after", "only heartbeat_lost and no_progress rules take 'after'"))
        if kind != RuleKind.STATUS and rule.status is not None:
            out.append(("status", "only 'on: status' rules take 'status'"))
        return out
    if rule.metric is None:
        out.append(("metric", "required (or give 'on:' for an event rule)"))
    if rule.condition is None:
        out.append(("condition", "required with 'metric'"))
        return out
    for name in ("after", "status"):
        if getattr(rule, name) is not None:
            out.append((name, "only event rules ('on:') take this field"))
    if kind in (RuleKind.NO_IMPROVEMENT, RuleKind.NEW_BEST):
        if rule.mode is None:
            out.append(("mode", f"required with condition {kind.value} (min or max)"))
        if rule.for_ is not None:
            out.append(("for", f"not used by condition {kind.value}"))
    elif rule.mode is not None:
        out.append(("mode", "only no_improvement and new_best take 'mode'"))
    if kind == RuleKind.NO_IMPROVEMENT and rule.patience is None:
        out.append(("patience", "required with condition no_improvement (points without a new best)"))
    if kind != RuleKind.NO_IMPROVEMENT and rule.patience is not None:
        out.append(("patience", "only no_improvement takes 'patience'"))
    return out


def _from_pydantic(doc: _yaml.Document, source: str, err: Any) -> RuleError:
    path: list[str | int] = []
    node = doc.data
    for part in err["loc"]:
        # discriminated unions add the tag ('slack') to loc: skip what is not in the data
        if isinstance(node, dict) and part in node or isinstance(node, list) and isinstance(part, int):
            path.append(part)
            node = node[part] if isinstance(node, dict) else node[part] if part < len(node) else None
    if err["type"] == "extra_forbidden" and err["loc"]:
        message = "unknown field"
    elif err["type"] == "union_tag_invalid":
        message = f"unknown channel type {err['input'].get('type')!r} (expected slack, email, webhook or console)"
        path.append("type")
    elif err["type"] == "union_tag_not_found":
        message = "required (slack, email, webhook or console)"
        path.append("type")
    elif err["type"] == "missing":
        message = "required"
        path.append(str(err["loc"][-1]))
    else:
        message = str(err["msg"]).removeprefix("Value error, ")
    return _error(doc, source, tuple(path), message)


def _error(doc: _yaml.Document, source: str, path: _yaml.Path, message: str) -> RuleError:
    rule = channel = field_name = None
    rest: _yaml.Path = path
    data = doc.data if isinstance(doc.data, dict) else {}
    if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
        rules = data.get("rules")
        entry = rules[path[1]] if isinstance(rules, list) and path[1] < len(rules) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        rule = name if isinstance(name, str) and name else f"#{path[1] + 1}"
        rest = path[2:]
    elif len(path) >= 2 and path[0] == "channels":
        channel, rest = str(path[1]), path[2:]
    if rest:
        field_name = str(rest[0]) if rule or channel else ".".join(str(p) for p in rest)
    return RuleError(message, file=source, line=doc.line(path), rule=rule, channel=channel, field=field_name)
