"""The streaming rule engine: (rules, state, events, now) → alert transitions.

Pure: no I/O and no clock reads, so every rule is tested as a table of events and
injected times, and the collector can run it inside its write transaction. Two
entry points:

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
  episode; the next silence opens a new one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from alerts._text import text_for, title_for
from alerts.rules import Rule, RuleKind, RuleSet
from alerts.state import AlertState, Slot
from emitter.events import Event, Kind, RunStatus

__all__ = [
    "Liveness",
    "RunInfo",
    "RunLookup",
    "Transition",
    "evaluate",
    "evaluate_timers",
    "lost_status_event",
]

_ENDED = frozenset({RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED})
_LEVELS = {"warn": "warning", "info": "info", "error": "error", "critical": "critical"}


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What rules select runs by, and what messages name them with."""

    run_id: str
    project: str | None = None
    name: str | None = None
    tags: frozenset[str] = frozenset()


RunLookup = Mapping[str, RunInfo] | Callable[[str], RunInfo | None]


@dataclass(frozen=True, slots=True)
class Liveness:
    """One active run as the stall detector sees it, on the collector's clock."""

    run_id: str
    last_event_at: float  # when any event of the run last arrived
    last_progress_at: float  # when a new (higher) metric step last arrived, or the run started
    status: str = RunStatus.RUNNING


@dataclass(frozen=True, slots=True)
class Transition:
    """One alert notification to send: an episode firing, repeating or resolved.

    ``key`` is the dedup key of the (rule, run[, subject]) and ``id`` names this
    notification uniquely (``key#episode.seq``): inserting it twice changes nothing.
    """

    rule: str
    run_id: str
    state: Literal["firing", "resolved"]
    kind: str
    episode: int
    seq: int
    at: float
    severity: str
    notify: tuple[str, ...]
    title: str
    text: str = ""
    repeat: bool = False
    subject: str = ""
    metric: str | None = None
    value: float | None = None
    step: int | None = None
    run_name: str | None = None
    project: str | None = None

    @property
    def key(self) -> str:
        base = f"{self.rule}|{self.run_id}"
        return f"{base}|{self.subject}" if self.subject else base

    @property
    def id(self) -> str:
        return f"{self.key}#{self.episode}.{self.seq}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: a non-finite ``value`` is written as a string ('nan', 'inf', '-inf')."""
        data = asdict(self)
        data["notify"] = list(self.notify)
        if self.value is not None and not math.isfinite(self.value):
            data["value"] = repr(self.value)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transition:
        values = dict(data)
        values["notify"] = tuple(values.get("notify", ()))
        if isinstance(values.get("value"), str):
            values["value"] = float(values["value"])
        return cls(**values)


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
    ctx = _Context(ruleset, state, now, runs)
    for event in events:
        info = ctx.info(event)
        if event.kind == Kind.METRICS or event.kind == Kind.SYSTEM:
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


def _on_values(ctx: _Context, info: RunInfo, event: Event) -> None:
    step = event.payload.get("step")
    for metric, raw in event.payload.get("values", {}).items():
        rules = ctx.ruleset.by_metric.get(metric)
        if not rules:
            continue
        value = float(raw)
        for rule in rules:
            if not rule.selects(info.project, info.name, info.tags):
                continue
            slot = ctx.state.slot(rule.name, info.run_id)
            if rule.kind == RuleKind.NO_IMPROVEMENT:
                _no_improvement(ctx, rule, info, slot, value, step)
            elif rule.kind == RuleKind.NEW_BEST:
                _new_best(ctx, rule, info, slot, value, step)
            else:
                _condition(ctx, rule, info, slot, value, step)


def _condition(ctx: _Context, rule: Rule, info: RunInfo, slot: Slot, value: float, step: int | None) -> None:
    assert rule.condition is not None
    matched = rule.condition.matches(value)
    slot.streak = slot.streak + 1 if matched else 0
    if matched and slot.firing:
        slot.value, slot.step = value, step
        ctx.repeat_if_due(rule, info, slot)
    elif matched and slot.streak >= rule.points_needed:
        slot.value, slot.step = value, step
        ctx.fire(rule, info, slot)
    elif not matched and slot.firing:
        ctx.resolve(rule, info, slot, value, step)


def _improves(rule: Rule, value: float, best: float | None) -> bool:
    if not math.isfinite(value):
        return False
    if best is None:
        return True
    return value < best - rule.min_delta if rule.mode == "min" else value > best + rule.min_delta


def _no_improvement(ctx: _Context, rule: Rule, info: RunInfo, slot: Slot, value: float, step: int | None) -> None:
    if _improves(rule, value, slot.best):
        slot.best, slot.since_best = value, 0
        if slot.firing:
            ctx.resolve(rule, info, slot, value, step)
        return
    slot.since_best += 1
    slot.value, slot.step = value, step
    if slot.firing:
        ctx.repeat_if_due(rule, info, slot)
    elif rule.patience is not None and slot.since_best >= rule.patience:
        ctx.fire(rule, info, slot)


def _new_best(ctx: _Context, rule: Rule, info: RunInfo, slot: Slot, value: float, step: int | None) -> None:
    if not _improves(rule, value, slot.best):
        return
    baseline = slot.best is None
    previous, slot.best = slot.best, value
    slot.value, slot.step = value, step
    if baseline:
        return
    ctx.instant(rule, info, slot, extra=f"previous best {previous:.6g}")


def _on_status(ctx: _Context, info: RunInfo, status: str, payload: Mapping[str, Any]) -> None:
    for rule in ctx.rules(RuleKind.STATUS, info):
        slot = ctx.state.slot(rule.name, info.run_id)
        changed, slot.last = status != slot.last, status
        if changed and status in rule.statuses:
            ctx.instant(rule, info, slot, status=status, extra=_exit_text(payload))
    if status in _ENDED:
        _close_run(ctx, info.run_id)


def _exit_text(payload: Mapping[str, Any]) -> str:
    parts = []
    if payload.get("exit_code") is not None:
        parts.append(f"exit code {payload['exit_code']}")
    traceback = payload.get("traceback")
    if isinstance(traceback, str) and traceback.strip():
        parts.append(traceback.strip().splitlines()[-1][:300])
    return "; ".join(parts)


def _close_run(ctx: _Context, run_id: str) -> None:
    """A run that ended keeps no open episode: nothing more to repeat about it."""
    for (rule, run, _subject), slot in list(ctx.state.firing()):
        if run == run_id and rule in ctx.ruleset.by_name:
            slot.firing = False


def _on_user_alert(ctx: _Context, info: RunInfo, payload: Mapping[str, Any]) -> None:
    title = str(payload.get("title", ""))[:200]
    for rule in ctx.rules(RuleKind.USER_ALERT, info):
        slot = ctx.state.slot(rule.name, info.run_id, title)
        interval = ctx.ruleset.repeat_interval_for(rule)
        if slot.notified_at is not None and ctx.now - slot.notified_at < interval:
            continue
        severity = rule.severity or _LEVELS.get(str(payload.get("level")), ctx.ruleset.defaults.severity)
        ctx.instant(rule, info, slot, subject=title, title=title, text=str(payload.get("text", "")), severity=severity)


def _on_alive(ctx: _Context, info: RunInfo) -> None:
    """Any event proves the run is alive: an open heartbeat_lost episode resolves."""
    for rule in ctx.ruleset.by_kind.get(RuleKind.HEARTBEAT_LOST, ()):
        slot = ctx.state.get(rule.name, info.run_id)
        if slot is not None and slot.firing:
            ctx.resolve(rule, info, slot)
    for rule in ctx.ruleset.by_kind.get(RuleKind.STATUS, ()):
        slot = ctx.state.get(rule.name, info.run_id)
        if slot is not None and slot.last == RunStatus.LOST:
            slot.last = None  # back from lost: the next lost is news again


# --------------------------------------------------------------------- timers


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
    ctx = _Context(ruleset, state, now, info)
    if available_since is not None:
        for live in runs:
            run = ctx.lookup(live.run_id)
            _heartbeat(ctx, run, live, available_since)
            _progress(ctx, run, live, available_since)
    for (rule_name, run_id, _subject), slot in list(state.firing()):
        rule = ruleset.by_name.get(rule_name)
        if rule is not None:
            ctx.repeat_if_due(rule, ctx.lookup(run_id), slot)
    _prune(ctx)
    return ctx.out


def _heartbeat(ctx: _Context, run: RunInfo, live: Liveness, available_since: float) -> None:
    if live.status not in (RunStatus.RUNNING, RunStatus.LOST):
        return
    silent_for = ctx.now - max(live.last_event_at, available_since)
    for rule in ctx.rules(RuleKind.HEARTBEAT_LOST, run):
        slot = ctx.state.get(rule.name, run.run_id)
        if (slot is None or not slot.firing) and rule.after is not None and silent_for >= rule.after:
            slot = ctx.state.slot(rule.name, run.run_id)
            slot.value, slot.step = round(ctx.now - live.last_event_at, 3), None
            ctx.fire(rule, run, slot)


def _progress(ctx: _Context, run: RunInfo, live: Liveness, available_since: float) -> None:
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


def _prune(ctx: _Context) -> None:
    """Forget slots of removed rules and user-alert titles whose interval has passed."""
    for key, slot in list(ctx.state.slots.items()):
        rule = ctx.ruleset.by_name.get(key[0])
        if (
            rule is None
            or key[2]
            and slot.notified_at is not None
            and ctx.now - slot.notified_at >= _interval(ctx, rule)
        ):
            ctx.state.drop(key)


def _interval(ctx: _Context, rule: Rule) -> float:
    return ctx.ruleset.repeat_interval_for(rule)


# -------------------------------------------------------------------- context


class _Context:
    """One call's inputs and output, and the transitions' bookkeeping."""

    def __init__(self, ruleset: RuleSet, state: AlertState, now: float, runs: RunLookup | None) -> None:
        self.ruleset, self.state, self.now, self.runs = ruleset, state, now, runs
        self.out: list[Transition] = []
        self.alive: set[str] = set()  # runs already known alive in this call
        self._seen: dict[str, RunInfo] = {}

    def lookup(self, run_id: str) -> RunInfo:
        found = self._seen.get(run_id)
        if found is None:
            if callable(self.runs):
                found = self.runs(run_id)
            elif self.runs is not None:
                found = self.runs.get(run_id)
            found = found or RunInfo(run_id)
            self._seen[run_id] = found
        return found

    def info(self, event: Event) -> RunInfo:
        found = self.lookup(event.run_id)
        if event.kind == Kind.RUN_START and found.project is None:
            p = event.payload
            found = RunInfo(event.run_id, p.get("project"), p.get("name") or None, frozenset(p.get("tags") or ()))
            self._seen[event.run_id] = found
        return found

    def rules(self, kind: RuleKind, run: RunInfo) -> Iterable[Rule]:
        return (r for r in self.ruleset.by_kind.get(kind, ()) if r.selects(run.project, run.name, run.tags))

    def fire(self, rule: Rule, run: RunInfo, slot: Slot) -> None:
        slot.firing, slot.episode, slot.seq, slot.since, slot.notified_at = (
            True,
            slot.episode + 1,
            0,
            self.now,
            self.now,
        )
        self._emit(rule, run, slot, "firing", value=slot.value, step=slot.step)

    def repeat_if_due(self, rule: Rule, run: RunInfo, slot: Slot) -> None:
        last = slot.notified_at if slot.notified_at is not None else self.now
        if self.now - last >= self.ruleset.repeat_interval_for(rule):
            slot.seq += 1
            slot.notified_at = self.now
            self._emit(rule, run, slot, "firing", value=slot.value, step=slot.step, repeat=True)

    def resolve(
        self, rule: Rule, run: RunInfo, slot: Slot, value: float | None = None, step: int | None = None
    ) -> None:
        slot.firing, slot.streak = False, 0
        if self.ruleset.send_resolved_for(rule):
            slot.seq += 1
            self._emit(rule, run, slot, "resolved", value=value, step=step)

    def instant(self, rule: Rule, run: RunInfo, slot: Slot, *, subject: str = "", **text: Any) -> None:
        recent = slot.notified_at is not None and self.now - slot.notified_at < _interval(self, rule)
        if rule.kind == RuleKind.NEW_BEST and recent:
            return  # folded into the last notification
        slot.episode, slot.seq, slot.notified_at = slot.episode + 1, 0, self.now
        self._emit(rule, run, slot, "firing", value=slot.value, step=slot.step, subject=subject, **text)

    def _emit(
        self,
        rule: Rule,
        run: RunInfo,
        slot: Slot,
        state: Literal["firing", "resolved"],
        *,
        value: float | None = None,
        step: int | None = None,
        repeat: bool = False,
        subject: str = "",
        title: str | None = None,
        text: str | None = None,
        severity: str | None = None,
        status: str | None = None,
        extra: str = "",
    ) -> None:
        kind = rule.kind
        metric = rule.metric
        if kind in (RuleKind.HEARTBEAT_LOST, RuleKind.NO_PROGRESS):
            value = value if state == "firing" else None  # seconds of silence / without a new step
        elif kind in (RuleKind.STATUS, RuleKind.USER_ALERT):
            value = None
        if metric is None:
            step = None
        if title is None:
            title = title_for(rule, state, status, value)
        if text is None:
            text = text_for(rule, value, step, extra)
        if rule.description:
            text = f"{text}\n{rule.description}" if text else rule.description
        self.out.append(
            Transition(
                rule=rule.name,
                run_id=run.run_id,
                state=state,
                kind=kind.value,
                episode=slot.episode,
                seq=slot.seq,
                at=self.now,
                severity=severity or self.ruleset.severity_for(rule),
                notify=self.ruleset.notify_for(rule),
                title=title,
                text=text,
                repeat=repeat,
                subject=subject,
                metric=metric,
                value=value,
                step=step,
                run_name=run.name,
                project=run.project,
            )
        )
