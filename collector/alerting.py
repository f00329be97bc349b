"""Alerting inside the collector: the rule engine on every commit, and the stall detector.

``Alerting.hook`` runs inside the store's write transaction with the events it applied:
the transitions they cause, the outbox rows for them and the engine's new state commit
together with the events, so a crash can neither lose nor repeat an alert.
``Alerting.tick`` is the stall detector's step (every second): runs silent for longer
than a ``heartbeat_lost`` rule's ``after`` (or ``lost_after``) are marked ``lost``,
``no_progress`` rules are checked, and repeats that are due go out. Silence is measured
on the collector's clock, from the later of a run's last event and the moment the
stream last became readable, so a Redis outage never makes a run look lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from alerts import (
    AlertState,
    Delivery,
    RuleSet,
    RunInfo,
    Transition,
    deliveries_for,
    evaluate,
    evaluate_timers,
    load_rules,
    lost_status_event,
    parse_rules,
    silencing,
)
from emitter.events import Event

from .digests import scope_problem
from .store.base import AlertStore

logger = logging.getLogger(__name__)

# Used when no rules file exists: what anyone would want to hear about, on the console.
# Every metric (and system value) is watched for NaN/±Inf, one alert per series; a lost
# run repeats after 4h (the default repeat_interval), then 8h, 16h, then once a day.
DEFAULT_RULES = """
rules:
  - {name: metric-not-finite, metric: "*", condition: nonfinite, severity: critical}
  - {name: run-failed, on: status, status: [failed, killed, lost], severity: error}
  - {name: heartbeat-lost, on: heartbeat_lost, after: 60s, severity: critical}
  - {name: from-code, on: user_alert}
"""

TransitionListener = Callable[[Sequence[Transition]], None]


def load_ruleset(path: Path) -> RuleSet:
    """The rules file when it exists, else the built-in defaults (console only)."""
    if path.exists():
        return load_rules(path, check_scope=scope_problem)
    logger.info("no alert rules at %s: using the built-in defaults", path)
    return parse_rules(DEFAULT_RULES, source="<built-in defaults>")


class Alerting:
    """The rule engine wired to the store: a write hook plus the stall detector's tick.

    >>> alerting = Alerting(ruleset, store.alerts, lost_after=60)
    >>> store.hooks.append(alerting)          # evaluate every committed batch (a ``WriteHook``)
    >>> alerting.tick(now, available_since)   # every second, on the store's thread
    """

    def __init__(
        self,
        ruleset: RuleSet,
        store: AlertStore,
        *,
        lost_after: float = 60.0,
        listeners: Sequence[TransitionListener] = (),
        dispatch: Callable[[list[Delivery]], None] | None = None,
        lease: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ruleset = ruleset
        self.store = store
        self.lost_after = lost_after
        self.listeners = list(listeners)
        self.lost_listeners: list[Callable[[list[str]], None]] = []  # run ids the detector marked lost
        self.clock = clock
        self.state = AlertState.from_rows(store.alert_state_rows())
        # The fast path: with ``dispatch``, new deliveries are stored already leased to this
        # process and handed to the delivery worker right after the commit, skipping its
        # claim (which would wait for the next commit's lock). A crash before sending leaves
        # them to ``claim_due`` once the lease expires.
        self.dispatch = dispatch
        self.lease = lease
        # With several collectors: runs' state is read back from the store before their events are
        # evaluated, since the stall detector (another collector) may have changed it.
        self.shared = False
        self._uncommitted: list[Transition] = []
        self._undispatched: list[Delivery] = []
        self.fired = 0

    def __repr__(self) -> str:
        return f"<Alerting rules={len(self.ruleset.rules)} fired={self.fired} state={len(self.state.slots)}>"

    # ---------------------------------------------------------- write hook

    def __call__(self, applied: Sequence[Event], now: float) -> None:
        """Inside the events' transaction: evaluate, record transitions, queue deliveries, save state."""
        if not applied:
            return
        if self.shared:  # the stall detector in another collector may have changed these runs' state
            run_ids = {event.run_id for event in applied}
            self.state.load_runs(run_ids, self.store.alert_state_rows_in_tx(sorted(run_ids)))
        transitions = evaluate(self.ruleset, self.state, applied, now, runs=self._run_info)
        self._persist(transitions, now)

    def after_commit(self) -> None:
        deliveries, self._undispatched = self._undispatched, []
        if deliveries and self.dispatch is not None:
            try:
                self.dispatch(deliveries)
            except Exception:
                logger.exception(
                    "dispatching %d deliveries failed; they are sent when their lease expires", len(deliveries)
                )
        transitions, self._uncommitted = self._uncommitted, []
        if transitions:
            self.fired += sum(1 for t in transitions if t.state == "firing" and not t.repeat)
            for listener in self.listeners:
                try:
                    listener(transitions)
                except Exception:
                    logger.exception("alert listener %r failed", listener)

    def reload(self) -> None:
        """Take the engine's state from the store: another collector (a shard's previous owner, or
        the stall detector) may have committed changes to it. Call it between transactions."""
        self.state = AlertState.from_rows(self.store.alert_state_rows())

    def after_rollback(self) -> None:
        """The events were not committed: forget what evaluating them changed."""
        self._uncommitted = []
        self._undispatched = []
        self.state = AlertState.from_rows(self.store.alert_state_rows())

    def _persist(self, transitions: list[Transition], now: float) -> None:
        if transitions:
            self.store.record_transitions_in_tx(transitions)
            deliveries = self._unsilenced(transitions, now)
            if self.dispatch is None:
                self.store.add_deliveries(deliveries)
            else:
                leased = [replace(d, attempts=1, next_attempt_at=now + self.lease) for d in deliveries]
                self._undispatched.extend(self.store.add_deliveries(leased))
            self._uncommitted.extend(transitions)
        self.store.save_alert_state_in_tx(self.state.drain_changes())

    def _unsilenced(self, transitions: list[Transition], now: float) -> list[Delivery]:
        """The deliveries to send; those a silence mutes are recorded as 'silenced' instead."""
        silences = self.store.active_silences_in_tx(now)
        if not silences:
            return deliveries_for(transitions, now)
        send: list[Transition] = []
        for transition in transitions:
            silence = silencing(silences, transition, now)
            if silence is None:
                send.append(transition)
            else:
                reason = f"silenced by silence #{silence.id}" + (f": {silence.comment}" if silence.comment else "")
                self.store.add_silenced_in_tx(deliveries_for([transition], now), reason[:300])
                logger.info("alert %s muted (%s)", transition.id, reason)
        return deliveries_for(send, now)

    def _run_info(self, run_id: str) -> RunInfo | None:
        return self.store.run_info_in_tx(run_id)

    # ------------------------------------------------------- stall detector

    def tick(self, now: float | None = None, available_since: float | None = None) -> list[Transition]:
        """One stall-detector step in its own transaction; returns the transitions it caused."""
        now = self.clock() if now is None else now
        lost: list[str] = []
        try:
            transitions = self.store.transaction(lambda: self._tick_in_tx(now, available_since, lost))
        except BaseException:
            self.after_rollback()
            raise
        self.after_commit()
        if lost:
            for listener in self.lost_listeners:
                try:
                    listener(lost)
                except Exception:
                    logger.exception("lost-run listener %r failed", listener)
        return transitions

    def _tick_in_tx(self, now: float, available_since: float | None, lost_out: list[str]) -> list[Transition]:
        runs = self.store.liveness_in_tx()
        transitions = evaluate_timers(
            self.ruleset, self.state, runs, now, available_since=available_since, info=self._run_info
        )
        lost = {t.run_id for t in transitions if t.kind == "heartbeat_lost" and t.state == "firing"}
        if available_since is not None:
            lost |= {
                r.run_id
                for r in runs
                if r.status == "running" and now - max(r.last_event_at, available_since) > self.lost_after
            }
        changed = self.store.mark_lost_in_tx(sorted(lost), now)
        lost_out.extend(changed)
        if changed:
            logger.warning("runs lost (no events for too long): %s", ", ".join(changed))
            events = [lost_status_event(run_id, now) for run_id in changed]
            transitions += evaluate(self.ruleset, self.state, events, now, runs=self._run_info)
        self._persist(transitions, now)
        return transitions
