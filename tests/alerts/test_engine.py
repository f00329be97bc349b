"""Rule tables: events fed at injected times → the alert transitions they must cause.

Each case lists ``(now, event)`` pairs and the transitions expected, written as
``(now, "<rule> <state>")`` with ``repeat`` appended for repeats.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import pytest

from alerts.engine import RunInfo, Transition, evaluate, evaluate_timers, lost_status_event
from alerts.notifiers.base import AlertMessage
from alerts.rules import RuleSet
from alerts.rules_file import parse_rules
from alerts.state import AlertState, Slot
from emitter.events import Event, Kind
from tests.alerts.events import RUN, heartbeat, metric, points, run_start, status, user_alert

nan, inf = math.nan, math.inf


def rules(body: str, defaults: str = "") -> RuleSet:
    return parse_rules(f"rules:\n{body}\n" + (f"defaults: {defaults}\n" if defaults else ""))


def feed(ruleset: RuleSet, steps: Sequence[tuple[float, Event]], state: AlertState | None = None) -> list[Transition]:
    state = AlertState() if state is None else state
    out: list[Transition] = []
    for now, ev in steps:
        out += evaluate(ruleset, state, [ev], now)
    return out


def compact(transitions: list[Transition]) -> list[tuple[float, str]]:
    return [(t.at, f"{t.rule} {t.state}" + (" repeat" if t.repeat else "")) for t in transitions]


NAN = "  - {name: nan, metric: loss, condition: nonfinite}"
NAN_RESOLVED = "  - {name: nan, metric: loss, condition: nonfinite, send_resolved: true}"
DIVERGING = "  - {name: div, metric: loss, condition: '> 10', for: 3, send_resolved: true}"
GOOD = "  - {name: good, metric: val/acc, condition: '>= 0.95'}"
PLATEAU = (
    "  - {name: plateau, metric: val/loss, condition: no_improvement, mode: min, patience: 3, send_resolved: true}"
)
BEST = "  - {name: best, metric: val/acc, condition: new_best, mode: max, repeat_interval: 10m}"

CASES = [
    # ---- nonfinite
    ("NaN on the very first point fires", NAN, [(0, metric(0, loss=nan))], [(0, "nan firing")]),
    ("+Inf fires", NAN, [(0, metric(0, loss=1.0)), (1, metric(1, loss=inf))], [(1, "nan firing")]),
    ("-Inf fires", NAN, [(0, metric(0, loss=-inf))], [(0, "nan firing")]),
    ("finite values never fire", NAN, [(0, metric(0, loss=1e308)), (1, metric(1, loss=-0.0))], []),
    ("one notification per episode", NAN, [(0, metric(0, loss=nan)), (1, metric(1, loss=nan))], [(0, "nan firing")]),
    ("other metrics are ignored", NAN, [(0, metric(0, acc=nan))], []),
    (
        "system metrics count too",
        NAN.replace("loss", "gpu.temp"),
        [(0, points(0, {"gpu.temp": nan}, Kind.SYSTEM))],
        [(0, "nan firing")],
    ),
    ("no resolved message by default", NAN, [(0, metric(0, loss=nan)), (1, metric(1, loss=1.0))], [(0, "nan firing")]),
    (
        "resolved when send_resolved, then a new episode",
        NAN_RESOLVED,
        [(0, metric(0, loss=nan)), (1, metric(1, loss=1.0)), (2, metric(2, loss=nan))],
        [(0, "nan firing"), (1, "nan resolved"), (2, "nan firing")],
    ),
    # ---- threshold with for: N
    (
        "for: 3 fires on the third consecutive point",
        DIVERGING,
        [(0, metric(0, loss=11)), (1, metric(1, loss=12)), (2, metric(2, loss=13)), (3, metric(3, loss=14))],
        [(2, "div firing")],
    ),
    (
        "for: 3 broken by a good point starts counting again",
        DIVERGING,
        [(t, metric(t, loss=v)) for t, v in enumerate([11, 12, 5, 11, 12, 13])],
        [(5, "div firing")],
    ),
    (
        "a good point resolves an open episode",
        DIVERGING,
        [(t, metric(t, loss=v)) for t, v in enumerate([11, 12, 13, 1])],
        [(2, "div firing"), (3, "div resolved")],
    ),
    (
        "comparisons never match NaN, so NaN breaks the streak",
        DIVERGING,
        [(t, metric(t, loss=v)) for t, v in enumerate([11, 12, nan, 11, 12])],
        [],
    ),
    ("+Inf is greater than 10", DIVERGING, [(t, metric(t, loss=inf)) for t in range(3)], [(2, "div firing")]),
    (
        "'>= 0.95' fires at exactly 0.95",
        GOOD,
        [(0, metric(0, val__acc=0.949)), (1, metric(1, val__acc=0.95))],
        [(1, "good firing")],
    ),
    (
        "out-of-order steps: for: N counts points in arrival order",
        DIVERGING,
        [(0, metric(50, loss=11)), (1, metric(10, loss=12)), (2, metric(30, loss=13))],
        [(2, "div firing")],
    ),
    # ---- no_improvement
    (
        "patience counts points since the best",
        PLATEAU,
        [(t, metric(t, val__loss=v)) for t, v in enumerate([1.0, 0.9, 0.95, 0.92, 0.93, 0.94])],
        [(4, "plateau firing")],
    ),
    (
        "a new best resolves the plateau",
        PLATEAU,
        [(t, metric(t, val__loss=v)) for t, v in enumerate([1.0, 1.1, 1.2, 1.3, 0.5])],
        [(3, "plateau firing"), (4, "plateau resolved")],
    ),
    (
        "NaN is never an improvement",
        PLATEAU,
        [(t, metric(t, val__loss=v)) for t, v in enumerate([nan, nan, nan])],
        [(2, "plateau firing")],
    ),
    (
        "out-of-order steps: a late point with a better value is a new best",
        PLATEAU,
        [
            (0, metric(10, val__loss=0.5)),
            (1, metric(20, val__loss=0.6)),
            (2, metric(5, val__loss=0.4)),
            (3, metric(30, val__loss=0.6)),
            (4, metric(40, val__loss=0.6)),
        ],
        [],
    ),
    (
        "min_delta: improvements smaller than it do not count",
        PLATEAU.replace("patience: 3", "patience: 2, min_delta: 0.1"),
        [(t, metric(t, val__loss=v)) for t, v in enumerate([1.0, 0.95, 0.91])],
        [(2, "plateau firing")],
    ),
    # ---- new_best
    ("the first point is a baseline, not a new best", BEST, [(0, metric(0, val__acc=0.5))], []),
    (
        "a better value is a new best; a worse one is not",
        BEST,
        [(0, metric(0, val__acc=0.5)), (1, metric(1, val__acc=0.6)), (2, metric(2, val__acc=0.55))],
        [(1, "best firing")],
    ),
    (
        "new bests within repeat_interval are folded into the last notification",
        BEST,
        [
            (0, metric(0, val__acc=0.5)),
            (1, metric(1, val__acc=0.6)),
            (60, metric(2, val__acc=0.7)),
            (601, metric(3, val__acc=0.8)),
        ],
        [(1, "best firing"), (601, "best firing")],
    ),
    (
        "out-of-order steps: values decide, not steps",
        BEST,
        [(0, metric(100, val__acc=0.5)), (1, metric(50, val__acc=0.9))],
        [(1, "best firing")],
    ),
    ("NaN is never a new best", BEST, [(0, metric(0, val__acc=0.5)), (1, metric(1, val__acc=nan))], []),
]


@pytest.mark.parametrize(("case", "body", "steps", "expected"), CASES, ids=[c[0] for c in CASES])
def test_metric_rules(
    case: str, body: str, steps: list[tuple[float, Event]], expected: list[tuple[float, str]]
) -> None:
    assert compact(feed(rules(body), steps)) == expected


def test_a_firing_transition_carries_what_the_message_needs() -> None:
    ruleset = rules("  - {name: nan, metric: loss, condition: nonfinite, severity: critical}")
    runs = {RUN: RunInfo(RUN, "vision", "resnet-7", frozenset({"prod"}))}

    [t] = evaluate(ruleset, AlertState(), [metric(12, loss=nan)], 100.0, runs)

    assert (t.rule, t.run_id, t.state, t.severity, t.notify) == ("nan", RUN, "firing", "critical", ("console",))
    assert (t.metric, t.step, t.run_name, t.project, t.episode, t.seq) == ("loss", 12, "resnet-7", "vision", 1, 0)
    assert t.value is not None and math.isnan(t.value)
    assert t.title == "loss is NaN" and t.text == "loss = NaN at step 12"
    assert t.key == f"nan|{RUN}" and t.id == f"nan|{RUN}#1.0"
    assert json.loads(json.dumps(t.to_dict(), allow_nan=False))["value"] == "NaN"  # as the event contract spells it
    assert Transition.from_dict(t.to_dict()).id == t.id


# --------------------------------------------------------------- repeats


def test_repeats_only_after_repeat_interval_and_are_flagged() -> None:
    ruleset = rules(NAN, defaults="{repeat_interval: 1h}")
    steps = [
        (0, metric(0, loss=nan)),
        (100, metric(1, loss=nan)),
        (3600, metric(2, loss=nan)),
        (3700, metric(3, loss=nan)),
    ]

    transitions = feed(ruleset, steps)

    assert compact(transitions) == [(0, "nan firing"), (3600, "nan firing repeat")]
    assert [(t.episode, t.seq, t.step) for t in transitions] == [(1, 0, 0), (1, 1, 2)]


def test_a_rule_overrides_the_default_repeat_interval() -> None:
    ruleset = rules(NAN.replace("}", ", repeat_interval: 5m}"), defaults="{repeat_interval: 1h}")
    steps = [(0, metric(0, loss=nan)), (300, metric(1, loss=nan))]
    assert compact(feed(ruleset, steps)) == [(0, "nan firing"), (300, "nan firing repeat")]


# ---------------------------------------------------------------- status


STATUS = "  - {name: ended, on: status}"
FAILED = "  - {name: failed, on: status, status: [failed, killed], severity: error}"


@pytest.mark.parametrize(
    ("case", "body", "steps", "expected"),
    [
        ("finished fires", STATUS, [(0, status("running")), (5, status("finished"))], [(5, "ended firing")]),
        ("running does not", STATUS, [(0, status("running"))], []),
        ("a rule's own statuses only", FAILED, [(0, status("finished"))], []),
        (
            "several ranks reporting finished alert once",
            STATUS,
            [(0, status("finished", writer="rank0")), (1, status("finished", writer="rank1"))],
            [(0, "ended firing")],
        ),
        (
            "a resumed run that ends again alerts again",
            STATUS,
            [(0, status("killed")), (10, status("running", writer="w1")), (20, status("finished", writer="w1"))],
            [(0, "ended firing"), (20, "ended firing")],
        ),
        ("lost, set by the collector, fires", STATUS, [(0, lost_status_event(RUN, 0))], [(0, "ended firing")]),
        (
            "a run that resumes after lost and is lost again alerts again",
            STATUS,
            [(0, lost_status_event(RUN, 0)), (30, heartbeat()), (200, lost_status_event(RUN, 200))],
            [(0, "ended firing"), (200, "ended firing")],
        ),
    ],
)
def test_status_rules(
    case: str, body: str, steps: list[tuple[float, Event]], expected: list[tuple[float, str]]
) -> None:
    assert compact(feed(rules(body), steps)) == expected


def test_a_failed_status_carries_exit_code_and_the_last_traceback_line() -> None:
    tb = "Traceback (most recent call last):\n  File 'train.py'\nRuntimeError: CUDA out of memory"
    [t] = evaluate(rules(FAILED), AlertState(), [status("failed", exit_code=1, traceback=tb)], 0.0)

    assert (t.title, t.severity, t.metric, t.value) == ("run failed", "error", None, None)
    assert t.text == "exit code 1; RuntimeError: CUDA out of memory"


def test_the_end_of_a_run_closes_its_open_episodes_silently() -> None:
    ruleset = rules(NAN, defaults="{repeat_interval: 1m, send_resolved: true}")
    state = AlertState()
    evaluate(ruleset, state, [metric(0, loss=nan)], 0.0)

    assert evaluate(ruleset, state, [status("failed")], 10.0) == []
    assert list(state.firing()) == []


# ------------------------------------------------------------ user alerts


USER = "  - {name: from-code, on: user_alert, repeat_interval: 10m}"


def test_user_alerts_carry_title_text_and_level() -> None:
    [t] = evaluate(rules(USER), AlertState(), [user_alert("val acc low", "acc=0.2 at epoch 3", "error")], 0.0)

    assert (t.title, t.text, t.severity, t.subject) == ("val acc low", "acc=0.2 at epoch 3", "error", "val acc low")
    assert t.key == f"from-code|{RUN}|val acc low"


def test_the_same_user_alert_title_is_sent_once_per_repeat_interval() -> None:
    steps = [
        (0, user_alert("low acc")),
        (10, user_alert("low acc")),
        (20, user_alert("disk full")),
        (601, user_alert("low acc")),
    ]
    transitions = feed(rules(USER), steps)

    assert [(t.at, t.title) for t in transitions] == [(0, "low acc"), (20, "disk full"), (601, "low acc")]
    assert {t.id for t in transitions} == {
        f"from-code|{RUN}|low acc#1.0",
        f"from-code|{RUN}|disk full#1.0",
        f"from-code|{RUN}|low acc#2.0",
    }


def test_warn_level_is_warning_severity_unless_the_rule_sets_one() -> None:
    [t] = evaluate(rules(USER), AlertState(), [user_alert("x", level="warn")], 0.0)
    assert t.severity == "warning"
    [t] = evaluate(
        rules(USER.replace("}", ", severity: critical}")), AlertState(), [user_alert("x", level="info")], 0.0
    )
    assert t.severity == "critical"


# -------------------------------------------------------------- selectors


SELECTED = "  - {name: nan, metric: loss, condition: nonfinite, project: 'vision-*', tags: [prod]}"


def test_selectors_use_the_run_lookup() -> None:
    ruleset = rules(SELECTED)
    prod = {RUN: RunInfo(RUN, "vision-resnet", "r", frozenset({"prod"}))}
    dev = {RUN: RunInfo(RUN, "vision-resnet", "r", frozenset({"dev"}))}

    assert len(evaluate(ruleset, AlertState(), [metric(0, loss=nan)], 0.0, prod)) == 1
    assert evaluate(ruleset, AlertState(), [metric(0, loss=nan)], 0.0, dev) == []
    assert len(evaluate(ruleset, AlertState(), [metric(0, loss=nan)], 0.0, prod.get)) == 1


def test_a_run_start_in_the_same_batch_identifies_an_unknown_run() -> None:
    ruleset = rules(SELECTED)
    batch = [run_start("vision-vit", "vit-1", ("prod",)), metric(0, loss=nan)]

    [t] = evaluate(ruleset, AlertState(), batch, 0.0, runs={})
    assert (t.project, t.run_name) == ("vision-vit", "vit-1")


def test_a_selective_rule_ignores_runs_it_knows_nothing_about() -> None:
    assert evaluate(rules(SELECTED), AlertState(), [metric(0, loss=nan)], 0.0) == []


def test_runs_are_independent() -> None:
    ruleset = rules(DIVERGING)
    steps = [(t, metric(t, run=f"run-{t % 2}", loss=11)) for t in range(5)]
    assert [(t.at, t.run_id) for t in feed(ruleset, steps)] == [(4, "run-0")]


# ----------------------------------------------------------------- state


ALL = f"{NAN_RESOLVED}\n{DIVERGING}\n{PLATEAU}\n{BEST}\n{STATUS}\n{USER}"


def test_state_survives_a_round_trip_through_json_mid_stream() -> None:
    ruleset = rules(ALL)
    values = [1.0, nan, 11, 12, 13, 1.0, 0.5, 0.6, 0.7, 0.8, 0.2]
    steps = [(float(t), metric(t, loss=v, val__loss=v, val__acc=v)) for t, v in enumerate(values)]
    steps += [(20.0, user_alert("x")), (21.0, status("finished"))]

    straight = feed(ruleset, steps)
    state = AlertState()
    first = feed(ruleset, steps[:6], state)
    restored = AlertState.from_json(state.to_json())
    second = feed(ruleset, steps[6:], restored)

    assert [t.to_dict() for t in first + second] == [t.to_dict() for t in straight]
    assert straight  # the table did fire


def test_state_json_is_strict_and_small() -> None:
    ruleset = rules(ALL)
    state = AlertState()
    for step in range(10_000):
        evaluate(
            ruleset, state, [metric(step, loss=nan if step % 7 == 0 else 5.0, val__loss=1.0 / (step + 1))], float(step)
        )

    text = state.to_json()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert len(text) < 1_000  # a handful of counters per (rule, run), not history
    assert AlertState.from_json(text).to_json() == text


def test_copy_lets_a_rolled_back_transaction_leave_state_untouched() -> None:
    ruleset = rules(NAN)
    state = AlertState()
    attempt = state.copy()
    evaluate(ruleset, attempt, [metric(0, loss=nan)], 0.0)  # the store write then fails: attempt is dropped

    assert evaluate(ruleset, state, [metric(0, loss=nan)], 1.0) != []


def test_drain_changes_lists_touched_slots_for_row_per_slot_stores() -> None:
    ruleset = rules(NAN)
    state = AlertState()
    evaluate(ruleset, state, [metric(0, loss=nan)], 0.0)

    [(key, data)] = state.drain_changes()
    assert key == ("nan", RUN, "") and data is not None and data["firing"] is True
    assert state.drain_changes() == []
    rebuilt = AlertState.from_rows([(*key, data)])
    assert evaluate(ruleset, rebuilt, [metric(1, loss=nan)], 1.0) == []  # same episode: no second alert


@pytest.mark.parametrize(
    ("stored", "expected"),
    [("NaN", nan), ("Infinity", inf), ("-Infinity", -inf), ("nan", nan), ("inf", inf), ("-inf", -inf), (2.5, 2.5)],
)
def test_outbox_payloads_and_state_read_back_both_spellings(stored: object, expected: float) -> None:
    """Payloads already in an outbox, and stored state, were written with ``repr`` spellings."""
    [t] = evaluate(rules(NAN), AlertState(), [metric(0, loss=nan)], 0.0)
    payload = {**t.to_dict(), "value": stored}

    for value in (
        Transition.from_dict(payload).value,
        AlertMessage.from_transition(Transition.from_dict(payload)).value,
        AlertMessage.from_dict({**AlertMessage.from_transition(t).to_dict(), "value": stored}).value,
        Slot.from_dict({"value": stored}).value,
        Slot.from_dict({"best": stored}).best,
    ):
        assert value is not None and (math.isnan(value) if math.isnan(expected) else value == expected)


def test_state_writes_non_finite_values_as_the_contract_spells_them() -> None:
    state = AlertState()
    evaluate(rules(NAN), state, [metric(0, loss=-inf)], 0.0)
    assert json.loads(state.to_json())["slots"][0][3]["value"] == "-Infinity"


# --------------------------------------------------------------- patterns


ANY = "  - {name: nan, metric: '*', condition: nonfinite}"
ANY_RESOLVED = "  - {name: nan, metric: '*', condition: nonfinite, send_resolved: true}"
ANY_LOSS = "  - {name: nan, metric: '*loss', condition: nonfinite}"
TRAIN = "  - {name: div, metric: 'train/*', condition: '> 10', for: 2}"
TRAIN_PLATEAU = "  - {name: flat, metric: 'val/*', condition: no_improvement, mode: min, patience: 2}"


def per_series(transitions: list[Transition]) -> list[tuple[float, str]]:
    return [(t.at, f"{t.rule}[{t.metric}] {t.state}" + (" repeat" if t.repeat else "")) for t in transitions]


PATTERN_CASES = [
    (
        "'*' watches every metric, system ones too",
        ANY,
        [(0, metric(0, loss=nan, acc=1.0)), (1, points(1, {"gpu.temp": inf}, Kind.SYSTEM))],
        [(0, "nan[loss] firing"), (1, "nan[gpu.temp] firing")],
    ),
    (
        "'*loss' matches loss and val/loss, not lossy",
        ANY_LOSS,
        [(0, metric(0, loss=nan, val__loss=nan, lossy=nan))],
        [(0, "nan[loss] firing"), (0, "nan[val/loss] firing")],
    ),
    (
        "one episode per (rule, run, metric): the same series again is the same episode",
        ANY,
        [(0, metric(0, loss=nan)), (1, metric(1, loss=nan, acc=nan)), (2, metric(2, acc=-inf, loss=nan))],
        [(0, "nan[loss] firing"), (1, "nan[acc] firing")],
    ),
    (
        "each series resolves on its own",
        ANY_RESOLVED,
        [(0, metric(0, loss=nan, acc=nan)), (1, metric(1, loss=1.0)), (2, metric(2, loss=nan))],
        [(0, "nan[loss] firing"), (0, "nan[acc] firing"), (1, "nan[loss] resolved"), (2, "nan[loss] firing")],
    ),
    (
        "for: N counts each series' points",
        TRAIN,
        [
            (0, metric(0, train__a=11, train__b=11)),
            (1, metric(1, train__a=11, train__b=1)),
            (2, metric(2, train__b=11)),
        ],
        [(1, "div[train/a] firing")],
    ),
    (
        "no_improvement keeps a best per series",
        TRAIN_PLATEAU,
        [(t, metric(t, val__a=1.0 + t, val__b=1.0 - t)) for t in range(4)],
        [(2, "flat[val/a] firing")],
    ),
    (
        "finite values whose sum overflows fire nothing (the all-finite fast path falls back)",
        "  - {name: nan, metric: '*', condition: nonfinite}",
        [(0, metric(0, a=1e308, b=1e308, c=-1e308))],
        [],
    ),
    (
        "a NaN among many finite values fires only its own series",
        "  - {name: nan, metric: '*', condition: nonfinite, send_resolved: true}",
        [(0, metric(0, a=1.0, b=nan, c=3.0)), (1, metric(1, a=1.0, b=2.0, c=3.0))],
        [(0, "nan[b] firing"), (1, "nan[b] resolved")],
    ),
    (
        "a literal name with glob characters still matches itself",
        "  - {name: nan, metric: 'loss[0]', condition: nonfinite}",
        [(0, points(0, {"loss0": nan})), (1, points(1, {"loss[0]": nan}))],
        [(0, "nan[loss0] firing"), (1, "nan[loss[0]] firing")],
    ),
]


@pytest.mark.parametrize(("case", "body", "steps", "expected"), PATTERN_CASES, ids=[c[0] for c in PATTERN_CASES])
def test_metric_patterns(
    case: str, body: str, steps: list[tuple[float, Event]], expected: list[tuple[float, str]]
) -> None:
    assert per_series(feed(rules(body), steps)) == expected


def test_a_pattern_rules_transition_names_its_series() -> None:
    [t] = evaluate(rules(ANY), AlertState(), [metric(7, val__loss=nan)], 0.0)

    assert (t.metric, t.step, t.subject, t.title, t.text) == (
        "val/loss",
        7,
        "val/loss",
        "val/loss is NaN",
        "val/loss = NaN at step 7",
    )
    assert (t.key, t.id) == (f"nan|{RUN}|val/loss", f"nan|{RUN}|val/loss#1.0")


def test_a_pattern_rules_repeats_and_state_keep_the_series() -> None:
    ruleset = rules(ANY, defaults="{repeat_interval: 10m}")
    state = AlertState()
    evaluate(ruleset, state, [metric(0, loss=nan, acc=inf)], 0.0)
    restored = AlertState.from_json(state.to_json())

    repeats = evaluate_timers(ruleset, restored, [], 600.0, available_since=0.0)
    assert sorted((t.metric, t.id, t.repeat) for t in repeats) == [
        ("acc", f"nan|{RUN}|acc#1.1", True),
        ("loss", f"nan|{RUN}|loss#1.1", True),
    ]
    assert evaluate(ruleset, restored, [metric(1, loss=nan, acc=nan)], 601.0) == []  # still the same episodes


def test_a_pattern_rule_keeps_no_state_for_series_that_never_matched() -> None:
    state = AlertState()
    evaluate(rules(ANY), state, [points(s, {f"m{i}": float(s) for i in range(50)}) for s in range(20)], 0.0)
    assert state.slots == {} and state.drain_changes() == []


def test_state_knows_which_rules_remember_a_run_through_drops_and_round_trips() -> None:
    state = AlertState()
    state.slot("nan", "r1", "loss").firing = True
    state.slot("nan", "r1", "acc")
    assert state.has_slots("nan", "r1") and not state.has_slots("nan", "r2") and not state.has_slots("other", "r1")
    state.drop(("nan", "r1", "acc"))
    assert state.has_slots("nan", "r1")
    restored = AlertState.from_json(state.to_json())
    assert restored.has_slots("nan", "r1")
    restored.forget_run("r1")
    assert not restored.has_slots("nan", "r1")


def test_an_episode_restored_from_stored_state_still_resolves_on_a_finite_batch() -> None:
    ruleset = rules("  - {name: nan, metric: '*', condition: nonfinite, send_resolved: true}")
    state = AlertState()
    assert per_series(feed(ruleset, [(0, metric(0, a=1.0, b=nan))], state)) == [(0, "nan[b] firing")]
    restored = AlertState.from_json(state.to_json())  # as after a collector restart
    assert per_series(feed(ruleset, [(1, metric(1, a=1.0, b=2.0))], restored)) == [(1, "nan[b] resolved")]
