"""Optuna: a real study of 10 trials (complete, pruned, failed), one run per trial in the study's group."""

from __future__ import annotations

import math

import optuna
import pytest

from emitter.integrations.optuna import RunwatchCallback
from tests.helpers import wait_for
from tests.integrations.stored import ended_runs, fired, notes, series

pytestmark = pytest.mark.integrations

PRUNED, FAILED, NAN = 3, 5, 7


def objective(trial: optuna.Trial) -> float:
    """A quadratic in x; trial 3 is pruned after two reports, trial 5 raises, trial 7 reports a NaN."""
    x = trial.suggest_float("x", -5.0, 5.0)
    optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam"])
    trial.set_user_attr("note", f"x={x:.2f}")
    for step in range(4):
        loss = (x - 1.0) ** 2 + 1.0 / (step + 1) + (0.5 if optimizer == "sgd" else 0.0)
        trial.report(math.nan if trial.number == NAN and step == 2 else loss, step)
        if trial.number == PRUNED and step == 1:
            raise optuna.TrialPruned()
        if trial.number == FAILED and step == 2:
            raise ValueError("diverged in trial 5")
    return (x - 1.0) ** 2


def _study(callback: RunwatchCallback, name: str) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(callback.track(objective), n_trials=10, callbacks=[callback], catch=(ValueError,))
    return study


def test_every_trial_is_a_run_in_the_study_group_with_its_state_values_and_the_best_marked(
    emitter_env, collector, store
):
    callback = RunwatchCallback(project="optuna-it", tags=["sweep"])
    study = _study(callback, "quadratic")

    runs = {run.name: run for run in ended_runs(store, "optuna-it", 10)}
    assert set(runs) == {f"quadratic-trial-{n}" for n in range(10)}
    best_so_far: float | None = None
    expected_best = []
    for trial in study.trials:
        run = runs[f"quadratic-trial-{trial.number}"]
        assert run.id == callback.runs[trial.number] and run.group == "quadratic"
        assert {key: run.params[key] for key in ("x", "optimizer")} == trial.params
        assert (run.params["optuna.trial"], run.params["optuna.state"]) == (trial.number, trial.state.name)
        assert run.params["optuna.user_attrs.note"] == trial.user_attrs["note"]
        wait_for(
            lambda: len(series(store, run.id, "intermediate_value")) == len(trial.intermediate_values),
            what=f"trial {trial.number}'s intermediate values",
        )
        reported = sorted(trial.intermediate_values.items())
        stored = series(store, run.id, "intermediate_value")
        assert [step for step, _ in stored] == [step for step, _ in reported]
        assert all(a == b or (math.isnan(a) and math.isnan(b)) for (_, a), (_, b) in zip(stored, reported, strict=True))
        if trial.state == optuna.trial.TrialState.COMPLETE:
            assert run.status == "finished" and "complete" in run.tags
            wait_for(lambda: series(store, run.id, "value"), what="the objective value")
            assert series(store, run.id, "value") == [(3, trial.value)]
            if best_so_far is None or trial.value < best_so_far:
                best_so_far = trial.value
                expected_best.append(trial.number)
    pruned, failed = runs[f"quadratic-trial-{PRUNED}"], runs[f"quadratic-trial-{FAILED}"]
    assert (pruned.status, pruned.exit_info["traceback"]) == ("killed", "pruned by Optuna after step 1")
    pruned_trial = study.trials[PRUNED]  # Optuna gives a pruned trial its last intermediate value
    assert "pruned" in pruned.tags and series(store, pruned.id, "value") == [(1, pruned_trial.value)]
    assert (failed.status, "fail" in failed.tags, series(store, failed.id, "value")) == ("failed", True, [])
    assert "ValueError: diverged in trial 5" in failed.exit_info["traceback"]

    tagged_best = sorted(int(run.params["optuna.trial"]) for run in runs.values() if "best" in run.tags)
    assert tagged_best == expected_best and tagged_best[-1] == study.best_trial.number
    assert any(
        "best trial of study quadratic so far" in text
        for text in notes(store, runs[f"quadratic-trial-{study.best_trial.number}"].id)
    )
    last = runs["quadratic-trial-9"]
    assert (last.params["optuna.best_trial"], last.params["optuna.best_value"]) == (
        study.best_trial.number,
        study.best_value,
    )


def test_a_nan_reported_by_a_trial_fires_the_nan_rule_on_its_run(emitter_env, service_factory):
    service = service_factory()
    callback = RunwatchCallback(project="optuna-nan", intermediate_key="loss")
    _study(callback, "nan-study")
    [alert] = fired(service, callback.runs[NAN])
    assert (alert.rule, alert.metric, alert.step) == ("nan", "loss", 2)
    for number, run_id in callback.runs.items():  # no other trial reported a NaN
        if number != NAN:
            assert service.store.alerts.history(run_id=run_id) == []
