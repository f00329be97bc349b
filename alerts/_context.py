"""One evaluation's bookkeeping: the runs it has looked up, and how episodes open, repeat and close.

Shared by ``evaluate`` (events) and ``evaluate_timers`` (the stall detector): both
decide *whether* a rule holds; ``Context`` decides what that means for the slot
(episode and seq numbers, repeat times) and builds the ``Transition`` to send.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from alerts._text import text_for, title_for
from alerts.rules import Rule, RuleKind, RuleSet
from alerts.state import AlertState, Slot
from alerts.transition import RunInfo, RunLookup, Transition
from emitter.events import Event, Kind

__all__ = ["LOST_REPEAT_CAP", "Context"]

LOST_REPEAT_CAP = 86_400.0  # a lost run's repeats back off to once a day at most


class Context:
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

    def fire(self, rule: Rule, run: RunInfo, slot: Slot, subject: str = "") -> None:
        slot.firing, slot.episode, slot.seq, slot.since, slot.notified_at = (
            True,
            slot.episode + 1,
            0,
            self.now,
            self.now,
        )
        self._emit(rule, run, slot, "firing", value=slot.value, step=slot.step, subject=subject)

    def repeat_if_due(self, rule: Rule, run: RunInfo, slot: Slot, subject: str = "") -> None:
        last = slot.notified_at if slot.notified_at is not None else self.now
        if self.now - last >= self.repeat_delay(rule, slot):
            slot.seq += 1
            slot.notified_at = self.now
            self._emit(rule, run, slot, "firing", value=slot.value, step=slot.step, repeat=True, subject=subject)

    def repeat_delay(self, rule: Rule, slot: Slot) -> float:
        """How long after the last notification the next repeat is due.

        ``repeat_interval``; for a lost run it doubles with every repeat, up to once a
        day (``LOST_REPEAT_CAP``): a dead job nobody cleaned up is reported less and less
        often instead of every interval forever. ``slot.seq`` counts the repeats so far.
        """
        interval = self.ruleset.repeat_interval_for(rule)
        if rule.kind != RuleKind.HEARTBEAT_LOST:
            return interval
        return max(interval, min(interval * 2.0 ** min(slot.seq, 32), LOST_REPEAT_CAP))

    def resolve(
        self,
        rule: Rule,
        run: RunInfo,
        slot: Slot,
        subject: str = "",
        value: float | None = None,
        step: int | None = None,
    ) -> None:
        slot.firing, slot.streak = False, 0
        if self.ruleset.send_resolved_for(rule):
            slot.seq += 1
            self._emit(rule, run, slot, "resolved", value=value, step=step, subject=subject)

    def instant(self, rule: Rule, run: RunInfo, slot: Slot, *, subject: str = "", **text: Any) -> None:
        recent = slot.notified_at is not None and self.now - slot.notified_at < self.ruleset.repeat_interval_for(rule)
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
        metric = subject if rule.is_pattern and subject else rule.metric  # a pattern rule's subject is its series
        if kind in (RuleKind.HEARTBEAT_LOST, RuleKind.NO_PROGRESS):
            value = value if state == "firing" else None  # seconds of silence / without a new step
        elif kind in (RuleKind.STATUS, RuleKind.USER_ALERT):
            value = None
        if metric is None:
            step = None
        if title is None:
            title = title_for(rule, state, status, value, metric)
        if text is None:
            text = text_for(metric, value, step, extra)
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
