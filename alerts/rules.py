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

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from alerts.channels import Channel
from alerts.conditions import Condition, Duration, Severity, canonical_severity, parse_duration
from emitter.events import RunStatus

if TYPE_CHECKING:
    from alerts.digest import Digest

__all__ = [
    "Condition",
    "Defaults",
    "Rule",
    "RuleKind",
    "RuleSet",
    "Severity",
    "parse_duration",
]

DEFAULT_CONSOLE = "console"
_MATCH_CACHE_SIZE = 10_000  # metric names whose rules are remembered (MAX_KEYS_PER_RUN in the contract)


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


class StrictModel(BaseModel):
    """Rules-file models: unknown fields are errors, values are frozen, `for` may be spelled `for_`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Rule(StrictModel):
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


class Defaults(StrictModel):
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
    digests: tuple[Digest, ...] = ()  # the ``digests:`` entries (``alerts.digest``)
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

    def digest(self, name: str) -> Digest:
        for digest in self.digests:
            if digest.name == name:
                return digest
        raise KeyError(name)

    def notify_for_digest(self, digest: Digest) -> tuple[str, ...]:
        names = digest.notify if digest.notify is not None else self.defaults.notify
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
            "digests": [d.model_dump(mode="json", exclude_none=True) for d in self.digests],
        }
