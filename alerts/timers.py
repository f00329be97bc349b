"""The stall detector's half of the engine: heartbeat_lost, no_progress and due repeats.

``evaluate_timers`` is called about every second with the liveness of every active
run, judged on the collector's clock (when its events arrived), never on emitter
timestamps. Pure, like ``evaluate``: (rules, state, liveness, now) → transitions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from alerts._context import Context
from alerts.rules import Rule, RuleKind, RuleSet
from alerts.state import AlertState, Slot
from alerts.transition import RunInfo, RunLookup, Transition
from emitter.events import RunStatus

__all__ = ["Liveness", "evaluate_timers"]


@dataclass(frozen=True, slots=True)
class Liveness:
    """One active run as the stall detector sees it, on the collector's clock."""

    run_id: str
    last_event_at: float  # when any event of the run last arrived
    last_progress_at: float  # when a new (higher) metric step last arrived, or the run started
    status: str = RunStatus.RUNNING


def evaluate_timers(
    ruleset: RuleSet,
    state: AlertState,
    runs: Iterable[Liveness],
    now: float,
    *,
    available_since: float | None,
    info: RunLookup | None = None,
) -> list[Transition]:
    """Heartbeat-lost and no-progress transitions, and due repeats, at collector time ``now``.

    ``available_since`` is when the event stream became readable without interruption
    (collector start, or the end of the last Redis outage); ``None`` while it is not.
    Silence is measured from the later of the run's last event and that moment, so an
    outage — during which emitters spool to disk — never makes a run look lost, and
    after it every run gets the full ``after`` to catch up.
    """
    ctx = Context(ruleset, state, now, info)
    if available_since is not None:
        for live in runs:
            run = ctx.lookup(live.run_id)
            _heartbeat(ctx, run, live, available_since)
            _progress(ctx, run, live, available_since)
    for (rule_name, run_id, subject), slot in list(state.firing()):
        rule = ruleset.by_name.get(rule_name)
        if rule is not None:
            ctx.repeat_if_due(rule, ctx.lookup(run_id), slot, subject)
    _prune(ctx)
    return ctx.out


def _heartbeat(ctx: Context, run: RunInfo, live: Liveness, available_since: float) -> None:
    if live.status not in (RunStatus.RUNNING, RunStatus.LOST):
        return
    silent_for = ctx.now - max(live.last_event_at, available_since)
    for rule in ctx.rules(RuleKind.HEARTBEAT_LOST, run):
        slot = ctx.state.get(rule.name, run.run_id)
        if (slot is None or not slot.firing) and rule.after is not None and silent_for >= rule.after:
            slot = ctx.state.slot(rule.name, run.run_id)
            slot.value, slot.step = round(ctx.now - live.last_event_at, 3), None
            ctx.fire(rule, run, slot)


def _progress(ctx: Context, run: RunInfo, live: Liveness, available_since: float) -> None:
    for rule in ctx.rules(RuleKind.NO_PROGRESS, run):
        slot = ctx.state.get(rule.name, run.run_id)
        if slot is not None and slot.firing:
            if slot.since is not None and live.last_progress_at > slot.since:
                ctx.resolve(rule, run, slot)
            continue
        if live.status != RunStatus.RUNNING or rule.after is None:
            continue
        alive = ctx.now - live.last_event_at < rule.after  # silent runs are heartbeat_lost's business
        stalled_for = ctx.now - max(live.last_progress_at, available_since)
        if alive and stalled_for >= rule.after:
            slot = ctx.state.slot(rule.name, run.run_id)
            slot.value, slot.step = round(ctx.now - live.last_progress_at, 3), None
            ctx.fire(rule, run, slot)


def _prune(ctx: Context) -> None:
    """Forget slots of removed rules, of series a changed rule no longer watches, and old user-alert titles."""
    for key, slot in list(ctx.state.slots.items()):
        rule = ctx.ruleset.by_name.get(key[0])
        if rule is None or _stale(ctx, rule, key[2], slot):
            ctx.state.drop(key)


def _stale(ctx: Context, rule: Rule, subject: str, slot: Slot) -> bool:
    if rule.kind == RuleKind.USER_ALERT:  # subject: the title, folded for repeat_interval
        return slot.notified_at is not None and ctx.now - slot.notified_at >= ctx.ruleset.repeat_interval_for(rule)
    if rule.metric is not None and rule.on is None:  # subject: the series of a pattern rule, else ""
        return (not subject or not rule.watches(subject)) if rule.is_pattern else subject != ""
    return False
