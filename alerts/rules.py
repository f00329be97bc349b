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

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from functools import cached_property, partial
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from alerts import _yaml
from alerts.channels import Channel, ConsoleChannel
from alerts.conditions import Condition, Duration, Severity, canonical_severity, parse_duration
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

DEFAULT_CONSOLE = "console"
_MATCH_CACHE_SIZE = 10_000  # metric names whose rules are remembered (MAX_KEYS_PER_RUN in the contract)
_T = TypeVar("_T")


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


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Rule(_Model):
    """One rule. Metric rules set ``metric`` + ``condition``; event rules set ``on``.

    >>> rule = parse_rules('rules: [{name: nan, metric: loss, condition: nonfinite}]').rules[0]
    >>> rule.kind, rule.condition.matches(float("nan"))
    (<RuleKind.NONFINITE: 'nonfinite'>, True)
    """

    name: str = Field(min_length=1)
    metric: str | None = Field(None, min_length=1)  # a name, or a glob: *loss, train/*, *
    condition: Annotated[Condition | None, BeforeValidator(lambda v: None if v is None else Condition.parse(v))] = None
    mode: Literal["min", "max"] | None = None
    patience: int | None = Field(None, ge=1)
    min_delta: float = Field(0.0, ge=0)
    for_: int | None = Field(None, alias="for", ge=1)
    on: Literal["status", "heartbeat_lost", "no_progress", "user_alert"] | None = None
    status: list[RunStatus] | None = None
    after: Duration | None = None
    severity: Annotated[Severity | None, BeforeValidator(canonical_severity)] = None
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

    @cached_property
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

    @cached_property
    def is_pattern(self) -> bool:
        """``metric`` is a glob (``*loss``, ``train/*``, ``*``): one episode per matching series."""
        return self.metric is not None and any(c in self.metric for c in "*?[")

    def watches(self, metric: str) -> bool:
        """Whether this metric rule watches series ``metric`` (its name, or a match of its glob)."""
        if self.metric is None or self.on is not None:
            return False
        return metric == self.metric or self.is_pattern and fnmatchcase(metric, self.metric)

    @cached_property
    def selects_every_run(self) -> bool:
        """No project, run-name or tag selector: the engine need not ask ``selects``."""
        return self.project is None and self.run_name is None and not self.tags

    @cached_property
    def only_nonfinite(self) -> bool:
        """A ``nonfinite`` condition: a batch of finite values cannot fire it (the engine's fast path)."""
        return self.condition is not None and self.condition.kind == "nonfinite" and self.on is None

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
    severity: Annotated[Severity, BeforeValidator(canonical_severity)] = "warning"


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
    _matches: dict[str, tuple[Rule, ...]] = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def _metric_rules(self) -> tuple[dict[str, tuple[Rule, ...]], tuple[Rule, ...]]:
        """Metric rules by exact name, and those whose ``metric`` is a pattern."""
        exact: dict[str, list[Rule]] = {}
        for rule in self.rules:
            if rule.metric is not None and rule.on is None and not rule.is_pattern:
                exact.setdefault(rule.metric, []).append(rule)
        patterns = tuple(r for r in self.rules if r.metric is not None and r.on is None and r.is_pattern)
        return {name: tuple(rules) for name, rules in exact.items()}, patterns

    @cached_property
    def nonfinite_only(self) -> tuple[Rule, ...] | None:
        """The metric rules when every one is a ``nonfinite`` condition for every run (else None).

        Then a batch of finite values concerns only the rules that remember the run: the
        engine's fast path for the default rules, which watch every metric.
        """
        metric_rules = tuple(r for r in self.rules if r.metric is not None and r.on is None)
        if all(r.only_nonfinite and r.selects_every_run for r in metric_rules):
            return metric_rules
        return None

    def rules_for_metric(self, name: str) -> tuple[Rule, ...]:
        """The metric rules that watch series ``name``, in file order (the engine's hot path: cached)."""
        found = self._matches.get(name)
        if found is None:
            exact, patterns = self._metric_rules
            matched = {id(r) for r in exact.get(name, ())}
            matched |= {id(r) for r in patterns if r.watches(name)}
            found = tuple(r for r in self.rules if id(r) in matched)
            if len(self._matches) >= _MATCH_CACHE_SIZE:
                self._matches.clear()  # a run with more distinct keys than this is rare: start over
            self._matches[name] = found
        return found

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
    """Validate rules from YAML text; ``${VAR}`` is taken from ``env`` (default ``os.environ``).

    Every problem is found in one pass and raised together, in file order: each channel,
    rule and the defaults are validated on their own, and the semantic checks run on
    the ones that validated. Only YAML that does not parse stops at its first error.
    """
    doc = _yaml.load(text, source, os.environ if env is None else env)
    data = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        raise RuleError("the file must be a mapping with channels, rules and defaults", file=source, line=1)
    found = _Found(data, list(doc.problems))
    channels = found.channels or {DEFAULT_CONSOLE: ConsoleChannel(type="console")}
    ruleset = RuleSet(channels, tuple(rule for _, rule in found.rules), found.defaults or Defaults(), source)
    problems = found.problems + _semantic_problems(data, found, known=list(found.channel_names) or [DEFAULT_CONSOLE])
    if problems:
        errors = [_error(doc, source, path, message) for path, message in problems]
        raise RuleError.collect(sorted(errors, key=lambda e: e.line or 0))
    return ruleset


_CHANNEL: TypeAdapter[Channel] = TypeAdapter(Channel)
_TOP_LEVEL = ("allow_private_targets", "channels", "rules", "defaults")
Problem = tuple[_yaml.Path, str]


class _Found:
    """The parts of a rules file that validate, and the problems of those that do not."""

    def __init__(self, data: dict[Any, Any], problems: list[Problem]) -> None:
        self.data = data
        self.problems = problems  # the YAML's first (unset variables, duplicate keys): not reported twice
        self._reported = [path for path, _ in problems]
        self.problems += [((key,), "unknown field") for key in data if key not in _TOP_LEVEL]
        allow = self._check(
            ("allow_private_targets",), lambda: _Top.model_validate(_pick(data, "allow_private_targets"))
        )
        context = {"allow_private_targets": allow is not None and allow.allow_private_targets}
        self.channels: dict[str, Channel] = {}
        self.channel_names: list[str] = []  # every configured name, valid or not: notify may name it
        for name, value in self._section("channels", dict).items():
            self.channel_names.append(str(name))
            channel = self._check(("channels", name), partial(_CHANNEL.validate_python, value, context=context))
            if channel is not None:
                self.channels[str(name)] = channel
        self.rules: list[tuple[int, Rule]] = []  # (index in the file, rule)
        for index, value in enumerate(self._section("rules", list)):
            rule = self._check(("rules", index), partial(Rule.model_validate, value))
            if rule is not None:
                self.rules.append((index, rule))
        self.defaults = self._check(
            ("defaults",), lambda: Defaults.model_validate({} if data.get("defaults") is None else data["defaults"])
        )

    def _section(self, key: str, kind: type[dict[Any, Any]] | type[list[Any]]) -> Any:
        value = self.data.get(key)
        if value is None or isinstance(value, kind):
            return value or kind()
        what = "a mapping of channel names to channels" if kind is dict else "a list of rules"
        self.problems.append(((key,), f"must be {what}"))
        return kind()

    def _check(self, at: _yaml.Path, validate: Callable[[], _T]) -> _T | None:
        try:
            return validate()
        except ValidationError as exc:
            for err in exc.errors():
                path, message = _from_pydantic(self.data, at, err)
                if not any(path[: len(p)] == p for p in self._reported):
                    self.problems.append((path, message))
            return None


class _Top(_Model):
    allow_private_targets: bool = False  # for every channel; each may also set its own


def _pick(data: dict[Any, Any], key: str) -> dict[Any, Any]:
    return {key: data[key]} if key in data else {}


def _semantic_problems(data: dict[Any, Any], found: _Found, known: list[str]) -> list[Problem]:
    """What types cannot say: which fields go together, names that must resolve, names that repeat."""
    problems: list[Problem] = []
    configured = ", ".join(known)
    raw_defaults = data.get("defaults")
    notify = (
        found.defaults.notify
        if found.defaults
        else raw_defaults.get("notify")
        if isinstance(raw_defaults, dict)
        else None
    )
    for j, name in enumerate(notify if isinstance(notify, list) else []):
        if isinstance(name, str) and name not in known:
            problems.append((("defaults", "notify", j), f"unknown channel {name!r} (configured: {configured})"))
    seen: set[str] = set()
    raw_rules = data.get("rules")
    for i, entry in enumerate(raw_rules if isinstance(raw_rules, list) else []):
        rule_name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(rule_name, str):
            continue
        if rule_name in seen:
            problems.append((("rules", i, "name"), f"duplicate rule name {rule_name!r}"))
        seen.add(rule_name)
    for i, rule in found.rules:
        at = ("rules", i)
        for j, name in enumerate(rule.notify or []):
            if name not in known:
                problems.append(((*at, "notify", j), f"unknown channel {name!r} (configured: {configured})"))
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


def _from_pydantic(data: Any, at: _yaml.Path, err: Any) -> Problem:
    """A pydantic error of the part at ``at`` as (path in the file, message)."""
    path: list[str | int] = []
    node = data
    for part in (*at, *err["loc"]):
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
    return tuple(path), message


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
