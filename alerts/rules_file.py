"""Reading a rules file: YAML to a ``RuleSet``, every problem of the file found in one pass.

A problem names its line, the rule or channel and the field — ``alerts.yaml:12: rule
'diverging': field 'condition': cannot parse '>> 10'`` — and all of them are raised
together, in file order (only YAML that does not parse stops at its first error).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from alerts import _yaml
from alerts.channels import Channel, ConsoleChannel
from alerts.digest import Digest
from alerts.errors import RuleError
from alerts.rules import DEFAULT_CONSOLE, Defaults, Rule, RuleKind, RuleSet, StrictModel

__all__ = ["load_rules", "parse_rules"]

_T = TypeVar("_T")


ScopeCheck = Callable[[str], str | None]  # a digest's scope filter → why it does not parse, or None


def load_rules(
    path: str | os.PathLike[str], env: Mapping[str, str] | None = None, *, check_scope: ScopeCheck | None = None
) -> RuleSet:
    """Read and validate a rules file; raises ``RuleError`` naming line, rule (or digest) and field."""
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"cannot read rules file: {exc.strerror}", file=name) from None
    return parse_rules(text, source=name, env=env, check_scope=check_scope)


def parse_rules(
    text: str,
    source: str = "<string>",
    env: Mapping[str, str] | None = None,
    *,
    check_scope: ScopeCheck | None = None,
) -> RuleSet:
    """Validate rules from YAML text; ``${VAR}`` is taken from ``env`` (default ``os.environ``).

    ``check_scope`` parses each digest's ``scope`` (the collector owns the filter grammar);
    without it a scope is checked when the digest runs.

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
    digests = tuple(digest for _, digest in found.digests)
    rules = tuple(rule for _, rule in found.rules)
    ruleset = RuleSet(channels, rules, found.defaults or Defaults(), source, digests=digests)
    known = list(found.channel_names) or [DEFAULT_CONSOLE]
    problems = found.problems + _semantic_problems(data, found, known=known)
    problems += _digest_problems(data, found, known, check_scope)
    if problems:
        errors = [_error(doc, source, path, message) for path, message in problems]
        raise RuleError.collect(sorted(errors, key=lambda e: e.line or 0))
    return ruleset


_CHANNEL: TypeAdapter[Channel] = TypeAdapter(Channel)
_TOP_LEVEL = ("allow_private_targets", "channels", "rules", "defaults", "digests")
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
        self.digests: list[tuple[int, Digest]] = []  # (index in the file, digest)
        for index, value in enumerate(self._section("digests", list)):
            digest = self._check(("digests", index), partial(Digest.model_validate, value))
            if digest is not None:
                self.digests.append((index, digest))
        self.defaults = self._check(
            ("defaults",), lambda: Defaults.model_validate({} if data.get("defaults") is None else data["defaults"])
        )

    def _section(self, key: str, kind: type[dict[Any, Any]] | type[list[Any]]) -> Any:
        value = self.data.get(key)
        if value is None or isinstance(value, kind):
            return value or kind()
        what = "a mapping of channel names to channels" if kind is dict else f"a list of {key}"
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


class _Top(StrictModel):
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


def _digest_problems(data: dict[Any, Any], found: _Found, known: list[str], check: ScopeCheck | None) -> list[Problem]:
    """Digest names that repeat, notify names that do not resolve, scopes that do not parse."""
    problems: list[Problem] = []
    seen: set[str] = set()
    raw = data.get("digests")
    for i, entry in enumerate(raw if isinstance(raw, list) else []):
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str):
            if name in seen:
                problems.append((("digests", i, "name"), f"duplicate digest name {name!r}"))
            seen.add(name)
    for i, digest in found.digests:
        for j, channel in enumerate(digest.notify or []):
            if channel not in known:
                problems.append(
                    (("digests", i, "notify", j), f"unknown channel {channel!r} (configured: {', '.join(known)})")
                )
        why = check(digest.scope) if check is not None and digest.scope else None
        if why is not None:
            problems.append((("digests", i, "scope"), why))
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
    rule = channel = digest = field_name = None
    rest: _yaml.Path = path
    data = doc.data if isinstance(doc.data, dict) else {}
    if len(path) >= 2 and path[0] in ("rules", "digests") and isinstance(path[1], int):
        entries = data.get(path[0])
        entry = entries[path[1]] if isinstance(entries, list) and path[1] < len(entries) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        label = name if isinstance(name, str) and name else f"#{path[1] + 1}"
        rule, digest = (label, None) if path[0] == "rules" else (None, label)
        rest = path[2:]
    elif len(path) >= 2 and path[0] == "channels":
        channel, rest = str(path[1]), path[2:]
    if rest:
        field_name = str(rest[0]) if rule or channel or digest else ".".join(str(p) for p in rest)
    return RuleError(
        message, file=source, line=doc.line(path), rule=rule, channel=channel, field=field_name, digest=digest
    )
