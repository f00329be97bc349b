"""Timer rules: heartbeat_lost and no_progress, judged on the collector's clock.

``Liveness`` says when events (any) and a new step last arrived; ``available_since``
says since when the stream has been readable without a break (``None``: it is not).
"""

from __future__ import annotations

import itertools

import pytest

from alerts.engine import Liveness, RunInfo, Transition, evaluate, evaluate_timers
from alerts.rules import RuleSet
from alerts.rules_file import parse_rules
from alerts.state import AlertState
from tests.alerts.events import RUN, heartbeat, metric

LOST = "{name: lost, on: heartbeat_lost, after: 60s, severity: critical}"
STALLED = "{name: stalled, on: no_progress, after: 15m}"


def rules(*bodies: str, defaults: str = "{send_resolved: true, repeat_interval: 1h}") -> RuleSet:
    return parse_rules("rules:\n" + "".join(f"  - {b}\n" for b in bodies) + f"defaults: {defaults}\n")


def tick(
    ruleset: RuleSet, state: AlertState, now: float, live: Liveness | None, since: float | None = 0.0
) -> list[str]:
    out = evaluate_timers(ruleset, state, [live] if live else [], now, available_since=since)
    return [describe(t) for t in out]


def describe(t: Transition) -> str:
    return f"{t.rule} {t.state}" + (" repeat" if t.repeat else "")


def alive(last_event: float, last_progress: float = 0.0, status: str = "running") -> Liveness:
    return Liveness(RUN, last_event_at=last_event, last_progress_at=last_progress, status=status)


@pytest.mark.parametrize(("now", "expected"), [(59.9, []), (60.0, ["lost firing"])])
def test_a_silent_run_is_lost_after_exactly_after_seconds(now: float, expected: list[str]) -> None:
    assert tick(rules(LOST), AlertState(), now, alive(last_event=0.0)) == expected


def test_lost_fires_once_per_episode_and_repeats_after_the_interval() -> None:
    ruleset, state = rules(LOST), AlertState()
    seen = [tick(ruleset, state, float(now), alive(0.0)) for now in range(55, 3700, 5)]

    assert [s for s in seen if s] == [["lost firing"], ["lost firing repeat"]]


def test_a_lost_transition_says_how_long_the_run_was_silent() -> None:
    [t] = evaluate_timers(
        rules(LOST),
        AlertState(),
        [alive(10.0)],
        75.0,
        available_since=0.0,
        info={RUN: RunInfo(RUN, "vision", "resnet")},
    )
    assert (t.title, t.value, t.severity, t.run_name) == ("run lost: no events for 1m", 65.0, "critical", "resnet")


def test_no_false_lost_while_the_stream_is_unavailable() -> None:
    ruleset, state = rules(LOST), AlertState()
    # Redis went down at t=100; the emitter spools; the collector reads nothing
    for now in range(100, 1000, 10):
        assert tick(ruleset, state, float(now), alive(last_event=95.0), since=None) == []
    # Redis is back at t=1000: the run gets the full `after` to catch up
    assert tick(ruleset, state, 1059.0, alive(last_event=95.0), since=1000.0) == []
    assert evaluate(ruleset, state, [heartbeat()], 1003.0) == []  # replay arrives
    assert tick(ruleset, state, 1059.0, alive(last_event=1003.0), since=1000.0) == []


def test_after_an_outage_a_run_that_stays_silent_is_lost() -> None:
    assert tick(rules(LOST), AlertState(), 1060.0, alive(last_event=95.0), since=1000.0) == ["lost firing"]


def test_a_run_that_resumes_after_lost_resolves_and_a_new_silence_is_a_new_episode() -> None:
    ruleset, state = rules(LOST), AlertState()
    assert tick(ruleset, state, 60.0, alive(0.0, status="lost")) == ["lost firing"]

    [resolved] = evaluate(ruleset, state, [metric(5, loss=1.0)], 100.0)
    assert (resolved.state, resolved.episode, resolved.title) == ("resolved", 1, "run is sending events again")

    assert tick(ruleset, state, 150.0, alive(100.0)) == []
    [again] = evaluate_timers(ruleset, state, [alive(100.0)], 160.0, available_since=0.0)
    assert (again.state, again.episode, again.seq) == ("firing", 2, 0)


def test_ended_runs_are_never_lost() -> None:
    for ended in ("finished", "failed", "killed"):
        assert tick(rules(LOST), AlertState(), 1e6, alive(0.0, status=ended)) == []


def test_no_progress_fires_when_alive_without_a_new_step() -> None:
    ruleset, state = rules(STALLED), AlertState()
    assert tick(ruleset, state, 899.0, alive(last_event=898.0, last_progress=0.0)) == []
    assert tick(ruleset, state, 900.0, alive(last_event=899.0, last_progress=0.0)) == ["stalled firing"]
    assert tick(ruleset, state, 905.0, alive(last_event=904.0, last_progress=0.0)) == []
    assert tick(ruleset, state, 910.0, alive(last_event=909.0, last_progress=907.0)) == ["stalled resolved"]


def test_a_silent_run_is_lost_not_stalled() -> None:
    ruleset = rules(LOST, STALLED)
    assert tick(ruleset, AlertState(), 5000.0, alive(last_event=0.0, last_progress=0.0)) == ["lost firing"]


def test_no_progress_waits_for_the_stream_too() -> None:
    ruleset = rules(STALLED)
    assert tick(ruleset, AlertState(), 5000.0, alive(4999.0, 0.0), since=None) == []
    assert tick(ruleset, AlertState(), 5000.0, alive(4999.0, 0.0), since=4500.0) == []


def test_timers_send_due_repeats_of_metric_alerts_too() -> None:
    ruleset = parse_rules("rules: [{name: nan, metric: loss, condition: nonfinite}]\ndefaults: {repeat_interval: 10m}")
    state = AlertState()
    evaluate(ruleset, state, [metric(0, loss=float("nan"))], 0.0)

    assert tick(ruleset, state, 599.0, None) == []
    assert tick(ruleset, state, 600.0, None) == ["nan firing repeat"]
    assert tick(ruleset, state, 601.0, None) == []


def test_slots_of_removed_rules_are_forgotten() -> None:
    state = AlertState()
    tick(rules(LOST), state, 60.0, alive(0.0))
    tick(rules(STALLED), state, 61.0, None)
    assert state.slots == {}


def test_a_lost_runs_repeats_back_off_doubling_from_repeat_interval_to_once_a_day() -> None:
    """A dead job nobody cleaned up must not page every repeat_interval forever."""
    ruleset, state = rules(LOST, defaults="{repeat_interval: 1h}"), AlertState()
    sent = [(now, t) for now in range(60, 10 * 86400, 60) for t in tick(ruleset, state, float(now), alive(0.0))]

    assert sent[0] == (60, "lost firing") and {t for _, t in sent[1:]} == {"lost firing repeat"}
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(sent)]
    assert gaps == [3600, 7200, 14400, 28800, 57600] + [86400] * 8


def test_metric_alerts_keep_repeating_every_repeat_interval() -> None:
    ruleset = parse_rules("rules: [{name: nan, metric: loss, condition: nonfinite}]\ndefaults: {repeat_interval: 10m}")
    state = AlertState()
    evaluate(ruleset, state, [metric(0, loss=float("nan"))], 0.0)

    repeats = [now for now in range(0, 6000, 60) if tick(ruleset, state, float(now), None)]
    assert repeats == [600, 1200, 1800, 2400, 3000, 3600, 4200, 4800, 5400]


def test_slots_of_series_an_edited_rule_no_longer_watches_are_forgotten() -> None:
    """Else an episode of a series the rule dropped would repeat forever."""
    state = AlertState()
    every = parse_rules("rules: [{name: nan, metric: '*', condition: nonfinite}]")
    evaluate(every, state, [metric(0, loss=float("nan"), acc=float("nan"))], 0.0)

    tick(parse_rules("rules: [{name: nan, metric: '*loss', condition: nonfinite}]"), state, 1.0, None)
    assert set(state.slots) == {("nan", RUN, "loss")}
    tick(parse_rules("rules: [{name: nan, metric: loss, condition: nonfinite}]"), state, 2.0, None)
    assert state.slots == {}

    evaluate(
        parse_rules("rules: [{name: nan, metric: loss, condition: nonfinite}]"),
        state,
        [metric(1, loss=float("nan"))],
        3.0,
    )
    tick(every, state, 4.0, None)
    assert state.slots == {}
