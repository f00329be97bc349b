"""The streaming rule engine: (rules, state, events, now) → alert transitions.

Pure: no I/O and no clock reads, so every rule is tested as a table of events and
injected times, and the collector can run it inside its write transaction. Two
entry points (the second lives in ``timers.py``, the bookkeeping both share in
``_context.py``, what they produce in ``transition.py``):

- ``evaluate`` — called with the events a batch newly applied, in arrival order.
- ``evaluate_timers`` — called by the stall detector (about every second) with the
  liveness of every active run, judged on the collector's clock; it fires
  ``heartbeat_lost`` and ``no_progress`` and sends due repeats.

Both mutate ``state`` in place and return the transitions to deliver. To keep
the state consistent with a rolled-back transaction, evaluate on ``state.copy()``
and keep the copy only after the commit (or reload the state from the store).

Semantics, chosen so one run's alerts are predictable whatever its writers do:

- Points are taken in arrival order. ``for: N`` counts consecutive matching points as
  they arrive, whatever their steps; one non-matching point resets it and resolves
  an open episode. Comparisons never match NaN (``nonfinite`` does).
- ``no_improvement``/``new_best`` compare values, never steps: a late point with an
  old step that beats the best is a new best. ``patience`` counts points that arrived
  since the best. The first finite point is the baseline, not a new best.
- An episode opens once (one notification), repeats every ``repeat_interval`` while
  open, and sends ``resolved`` only when ``send_resolved``. When the run ends
  (finished/failed/killed) its open episodes close silently: no more repeats.
- ``status``, ``user_alert`` and ``new_best`` are instants: each occurrence is its own
  episode (no resolve). A status fires when the run's status changes into one of the
  rule's statuses, so several ranks reporting ``finished`` alert once. A ``user_alert``
  with the same title, or another ``new_best``, within ``repeat_interval`` is folded
  into the last notification.
- A run marked ``lost`` that sends anything again resolves its ``heartbeat_lost``
  episode; the next silence opens a new one. Its repeats back off (``repeat_interval``,
  doubling, at most daily: ``Context.repeat_delay``).
- A metric rule whose ``metric`` is a glob watches each matching series on its own:
  the series is the slot's subject, so an episode is per (rule, run, metric). An
  exact name keeps no subject (its keys stay ``rule|run``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from alerts._context import Context
from alerts.rules import Rule, RuleKind, RuleSet
from alerts.state import AlertState
from alerts.timers import Liveness, evaluate_timers
from alerts.transition import RunInfo, RunLookup, Transition
from emitter.events import ENDED_STATUSES, VALUE_KINDS, Event, Kind, RunStatus

__all__ = [
    "Liveness",
    "RunInfo",
    "RunLookup",
    "Transition",
    "evaluate",
    "evaluate_timers",
    "lost_status_event",
]

_LEVELS = {"warn": "warning", "info": "info", "error": "error", "critical": "critical"}


def lost_status_event(run_id: str, now: float) -> Event:
    """The event to pass to ``evaluate`` when the collector marks a run lost (``on: status`` rules)."""
    return Event(run_id, "collector", 0, now, Kind.STATUS.value, {"status": RunStatus.LOST.value})


# ------------------------------------------------------------------- evaluate


def evaluate(
    ruleset: RuleSet,
    state: AlertState,
    events: Sequence[Event],
    now: float,
    runs: RunLookup | None = None,
) -> list[Transition]:
    """Transitions caused by ``events`` (newly applied, in arrival order) at collector time ``now``.

    ``runs`` gives each run's project, name and tags (for selectors and messages); a
    ``run.start`` among the events is used when it has no entry.
    """
    ctx = Context(ruleset, state, now, runs)
    for event in events:
        info = ctx.info(event)
        if event.kind in VALUE_KINDS:
            _on_values(ctx, info, event)
        elif event.kind == Kind.STATUS:
            _on_status(ctx, info, str(event.payload.get("status")), event.payload)
        elif event.kind == Kind.ALERT:
            _on_user_alert(ctx, info, event.payload)
        lost = event.kind == Kind.STATUS and event.payload.get("status") == RunStatus.LOST
        if lost:
            ctx.alive.discard(info.run_id)
        elif info.run_id not in ctx.alive:
            ctx.alive.add(info.run_id)
            _on_alive(ctx, info)
    return ctx.out


def _on_values(ctx: Context, info: RunInfo, event: Event) -> None:
    step = event.payload.get("step")
    values = event.payload.get("values", {})
    total = sum(values.values())  # in C: finite exactly when every value is (an overflow takes the slow path)
    finite = total - total == 0.0
    state = ctx.state
    run_id = info.run_id
    quiet = ctx.ruleset.nonfinite_only
    if finite and quiet is not None and not any(state.has_slots(rule.name, run_id) for rule in quiet):
        return  # only nonfinite rules, none with an episode of this run to resolve: nothing can change
    rules_for_metric = ctx.ruleset.rules_for_metric
    for metric, raw in values.items():
        rules = rules_for_metric(metric)
        if not rules:
            continue
        value = float(raw)
        for rule in rules:
            series = metric if rule.is_pattern else ""  # a pattern rule keeps one slot (and episode) per series
            if finite and rule.only_nonfinite and state.get(rule.name, run_id, series) is None:
                continue  # cannot fire on a finite value, and has no episode to resolve
            if not rule.selects_every_run and not rule.selects(info.project, info.name, info.tags):
                continue
            if rule.kind == RuleKind.NO_IMPROVEMENT:
                _no_improvement(ctx, rule, info, series, value, step)
            elif rule.kind == RuleKind.NEW_BEST:
                _new_best(ctx, rule, info, series, value, step)
            else:
                _condition(ctx, rule, info, series, value, step)


def _condition(ctx: Context, rule: Rule, info: RunInfo, series: str, value: float, step: int | None) -> None:
    assert rule.condition is not None
    matched = rule.condition.matches(value)
    known = ctx.state.get(rule.name, info.run_id, series)
    if not matched and (known is None or not known.firing and known.streak == 0):
        return  # nothing changes: no slot is made or written for a series that does not match
    slot = ctx.state.slot(rule.name, info.run_id, series)
    slot.streak = slot.streak + 1 if matched else 0
    if matched and slot.firing:
        slot.value, slot.step = value, step
        ctx.repeat_if_due(rule, info, slot, series)
    elif matched and slot.streak >= rule.points_needed:
        slot.value, slot.step = value, step
        ctx.fire(rule, info, slot, series)
    elif not matched and slot.firing:
        ctx.resolve(rule, info, slot, series, value, step)


def _improves(rule: Rule, value: float, best: float | None) -> bool:
    if not math.isfinite(value):
        return False
    if best is None:
        return True
    return value < best - rule.min_delta if rule.mode == "min" else value > best + rule.min_delta


def _no_improvement(ctx: Context, rule: Rule, info: RunInfo, series: str, value: float, step: int | None) -> None:
    slot = ctx.state.slot(rule.name, info.run_id, series)
    if _improves(rule, value, slot.best):
        slot.best, slot.since_best = value, 0
        if slot.firing:
            ctx.resolve(rule, info, slot, series, value, step)
        return
    slot.since_best += 1
    slot.value, slot.step = value, step
    if slot.firing:
        ctx.repeat_if_due(rule, info, slot, series)
    elif rule.patience is not None and slot.since_best >= rule.patience:
        ctx.fire(rule, info, slot, series)


def _new_best(ctx: Context, rule: Rule, info: RunInfo, series: str, value: float, step: int | None) -> None:
    slot = ctx.state.slot(rule.name, info.run_id, series)
    if not _improves(rule, value, slot.best):
        return
    baseline = slot.best is None
    previous, slot.best = slot.best, value
    slot.value, slot.step = value, step
    if baseline:
        return
    ctx.instant(rule, info, slot, subject=series, extra=f"previous best {previous:.6g}")


def _on_status(ctx: Context, info: RunInfo, status: str, payload: Mapping[str, Any]) -> None:
    for rule in ctx.rules(RuleKind.STATUS, info):
        slot = ctx.state.slot(rule.name, info.run_id)
        changed, slot.last = status != slot.last, status
        if changed and status in rule.statuses:
            ctx.instant(rule, info, slot, status=status, extra=_exit_text(payload))
    if status in ENDED_STATUSES:
        _close_run(ctx, info.run_id)


def _exit_text(payload: Mapping[str, Any]) -> str:
    parts = []
    if payload.get("exit_code") is not None:
        parts.append(f"exit code {payload['exit_code']}")
    traceback = payload.get("traceback")
    if isinstance(traceback, str) and traceback.strip():
        parts.append(traceback.strip().splitlines()[-1][:300])
    return "; ".join(parts)


def _close_run(ctx: Context, run_id: str) -> None:
    """A run that ended keeps no open episode: nothing more to repeat about it."""
    for (rule, run, _subject), slot in list(ctx.state.firing()):
        if run == run_id and rule in ctx.ruleset.by_name:
            slot.firing = False


def _on_user_alert(ctx: Context, info: RunInfo, payload: Mapping[str, Any]) -> None:
    title = str(payload.get("title", ""))[:200]
    for rule in ctx.rules(RuleKind.USER_ALERT, info):
        slot = ctx.state.slot(rule.name, info.run_id, title)
        interval = ctx.ruleset.repeat_interval_for(rule)
        if slot.notified_at is not None and ctx.now - slot.notified_at < interval:
            continue
        severity = rule.severity or _LEVELS.get(str(payload.get("level")), ctx.ruleset.defaults.severity)
        ctx.instant(rule, info, slot, subject=title, title=title, text=str(payload.get("text", "")), severity=severity)


def _on_alive(ctx: Context, info: RunInfo) -> None:
    """Any event proves the run is alive: an open heartbeat_lost episode resolves."""
    for rule in ctx.ruleset.by_kind.get(RuleKind.HEARTBEAT_LOST, ()):
        slot = ctx.state.get(rule.name, info.run_id)
        if slot is not None and slot.firing:
            ctx.resolve(rule, info, slot)
    for rule in ctx.ruleset.by_kind.get(RuleKind.STATUS, ()):
        slot = ctx.state.get(rule.name, info.run_id)
        if slot is not None and slot.last == RunStatus.LOST:
            slot.last = None  # back from lost: the next lost is news again
