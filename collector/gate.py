"""What ``runwatch gate`` decides: every requirement checked against one run, and regressions against a baseline.

Pure: records in, a ``Verdict`` out, so the CLI (and anything else) only fetches runs and
prints. A requirement is one comparison of the runs filter grammar (``store.search.
parse_comparison``: ``metrics.val/acc >= 0.9``, ``params.optimizer = 'adam'``, ``status =
finished``); ``metrics.X`` is the latest value, as in a filter. A missing field and a NaN
value fail, whatever the operator: a gate must never open on a number nobody can read.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from emitter.events import json_number

from .store.records import RunRecord
from .store.search import Comparison

__all__ = ["Allowance", "Check", "Verdict", "evaluate", "parse_allowance", "ranking", "verdict_json"]

Mode = Literal["max", "min"]

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_HIGHER_IS_BETTER = {">": True, ">=": True, "<": False, "<=": False}
_COLUMNS = {
    "id": "id",
    "name": "name",
    "project": "project",
    "group": "group",
    "status": "status",
    "notes": "notes",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "ended_at": "ended_at",
    "last_event_at": "last_event_at",
    "step": "last_step",
    "last_step": "last_step",
}


@dataclass(frozen=True, slots=True)
class Allowance:
    """How much worse than the baseline a metric may be: a fraction of it (``1%``) or an amount (``0.005``)."""

    amount: float
    relative: bool

    def of(self, baseline: float) -> float:
        return abs(baseline) * self.amount if self.relative else self.amount

    def __str__(self) -> str:
        return f"{self.amount * 100:g}%" if self.relative else f"{self.amount:g}"


def parse_allowance(text: str) -> Allowance:
    """``1%`` (relative to the baseline's value) or ``0.005`` (in the metric's units); never negative."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(%?)\s*", text)
    if match is None:
        raise ValueError(f"expected a percentage such as 1% or an amount such as 0.005, got {text!r}")
    amount = float(match.group(1))
    return Allowance(amount / 100 if match.group(2) else amount, bool(match.group(2)))


@dataclass(frozen=True, slots=True)
class Check:
    """One row of the gate's table: what was required, the value found, and whether it holds."""

    requirement: str
    field: str
    value: Any
    passed: bool
    reason: str = ""


@dataclass(slots=True)
class Verdict:
    run: RunRecord
    checks: list[Check] = field(default_factory=list)
    baseline: RunRecord | None = None

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


def _lookup(run: RunRecord, namespace: str, key: str | None) -> tuple[bool, Any]:
    """(found, value) of a requirement's field in a run."""
    if key is None:
        value = getattr(run, _COLUMNS[namespace])
        return value is not None, value
    if namespace == "metrics":
        summary = run.metrics.get(key)
        return (summary is not None, summary.last if summary else None)
    if namespace == "params":
        return key in run.params, run.params.get(key)
    node: Any = run.env  # env.git.commit: dots walk into the captured environment
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _comparable(value: Any, threshold: Any) -> bool:
    numbers = (int, float)
    if isinstance(threshold, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(threshold, bool)
    if isinstance(threshold, numbers):
        return isinstance(value, numbers)
    return isinstance(value, str)


def check(run: RunRecord, requirement: Comparison) -> Check:
    """Whether ``run`` meets one requirement; a missing field, a NaN or a value of another type fails."""
    found, value = _lookup(run, requirement.namespace, requirement.key)
    row = Check(requirement.text, requirement.field, value, False)
    if not found:
        what = "metric" if requirement.namespace == "metrics" else "value"
        return _with(row, reason=f"run {run.name} has no {what} {requirement.field}")
    if _is_nan(value):
        return _with(row, reason="the value is NaN: a NaN never passes")
    threshold = requirement.value
    if isinstance(threshold, str) and not isinstance(value, str) and requirement.op in ("=", "!="):
        value_text = value if isinstance(value, str) else str(value)  # status = finished, params.layers = '4'
        return _with(row, passed=_COMPARE[requirement.op](value_text, threshold))
    if not _comparable(value, threshold):
        return _with(row, reason=f"{value!r} cannot be compared with {threshold!r}")
    return _with(row, passed=_COMPARE[requirement.op](value, threshold))


def _with(row: Check, *, passed: bool = False, reason: str = "") -> Check:
    return Check(row.requirement, row.field, row.value, passed, reason)


def regression(run: RunRecord, baseline: RunRecord, requirement: Comparison, allowance: Allowance) -> Check | None:
    """The run's metric is at most ``allowance`` worse than the baseline's; None for a requirement without a direction."""
    if requirement.namespace != "metrics" or requirement.op not in _HIGHER_IS_BETTER:
        return None
    higher = _HIGHER_IS_BETTER[requirement.op]
    found, value = _lookup(run, "metrics", requirement.key)
    base_found, base = _lookup(baseline, "metrics", requirement.key)
    label = f"{requirement.field} {'≥' if higher else '≤'} baseline {'-' if higher else '+'} {allowance}"
    row = Check(label, requirement.field, value, False)
    if not base_found:
        return _with(row, reason=f"baseline {baseline.name} has no metric {requirement.field}")
    if _is_nan(base):
        return _with(row, reason=f"baseline {baseline.name}'s value is NaN: nothing to compare with")
    label = f"{label} ({base:.6g})"
    row = Check(label, requirement.field, value, False)
    if not found:
        return _with(row, reason=f"run {run.name} has no metric {requirement.field}")
    if _is_nan(value):
        return _with(row, reason="the value is NaN: a NaN never passes")
    allowed = allowance.of(base)
    passed = value >= base - allowed if higher else value <= base + allowed
    return _with(row, passed=passed, reason="" if passed else f"worse than the baseline by {abs(value - base):.6g}")


def evaluate(
    run: RunRecord,
    requirements: Sequence[Comparison],
    *,
    baseline: RunRecord | None = None,
    allowance: Allowance | None = None,
) -> Verdict:
    """Every requirement, then (with a baseline) one regression row per metric with a direction."""
    verdict = Verdict(run, [check(run, requirement) for requirement in requirements], baseline)
    if baseline is not None:
        seen: set[str] = set()
        for requirement in requirements:
            row = regression(run, baseline, requirement, allowance or Allowance(0.0, True))
            if row is not None and requirement.field not in seen:
                seen.add(requirement.field)
                verdict.checks.append(row)
    return verdict


def ranking(requirements: Sequence[Comparison], metric: str | None, mode: Mode | None) -> tuple[str, Mode]:
    """Which metric ``--best-of`` ranks by, and in which direction.

    ``--metric``/``--mode`` when given; else the first requirement on a metric, ``max`` for
    ``>``/``>=`` and ``min`` for ``<``/``<=``. Raises ``ValueError`` when nothing says.
    """
    first = next((r for r in requirements if r.namespace == "metrics"), None)
    key = metric.removeprefix("metrics.") if metric else (first.key if first else None)
    if key is None:
        raise ValueError("--best-of needs --metric, or a --require on a metric to rank the runs by")
    if mode is None:
        same = next((r for r in requirements if r.namespace == "metrics" and r.key == key), None)
        if same is None or same.op not in _HIGHER_IS_BETTER:
            raise ValueError(f"say whether a higher or lower metrics.{key} is better: --mode max or --mode min")
        mode = "max" if _HIGHER_IS_BETTER[same.op] else "min"
    return key, mode


def _json_value(value: Any) -> Any:
    return json_number(value) if isinstance(value, float) else value


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    """The machine-readable verdict (``--json``): non-finite numbers spelled as the API spells them."""

    def brief(run: RunRecord) -> dict[str, Any]:
        return {"id": run.id, "name": run.name, "project": run.project, "status": run.status}

    return {
        "passed": verdict.passed,
        "run": brief(verdict.run),
        "baseline": brief(verdict.baseline) if verdict.baseline else None,
        "checks": [
            {
                "requirement": c.requirement,
                "field": c.field,
                "value": _json_value(c.value),
                "passed": c.passed,
                "reason": c.reason,
            }
            for c in verdict.checks
        ],
    }
