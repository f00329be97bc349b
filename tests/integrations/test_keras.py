"""Keras 3 (torch backend): a real fit on a two-layer model, through Redis and the collector into the store."""

from __future__ import annotations

import math

import keras
import pytest

from emitter.integrations.keras import RunwatchCallback
from tests.helpers import run_python, wait_for
from tests.integrations import keras_models
from tests.integrations.stored import ended_runs, fired, notes, series

pytestmark = [
    pytest.mark.integrations,
    # Keras' torch variables under numpy 2 (inside optimizer.get_config()): Keras' own warning, not ours
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"),
]


def _run_id(callback) -> str:
    assert callback.run is not None, "the callback opened no run"
    return str(callback.run.id)


def test_a_fit_arrives_with_params_epoch_and_batch_metrics_and_finished(emitter_env, collector, store):
    callback = RunwatchCallback(project="keras-it", batch_every=2)
    history = keras_models.fit(keras_models.two_layer(), [callback])

    [run] = ended_runs(store, "keras-it")
    assert (run.id, run.status) == (_run_id(callback), "finished")
    assert (run.params["epochs"], run.params["steps"], run.params["model.name"]) == (2, 8, "two_layer")
    assert run.params["optimizer.learning_rate"] == pytest.approx(0.05)
    assert run.params["model.parameters"] == 4 * 8 + 8 + 8 + 1
    wait_for(lambda: len(series(store, run.id, "batch/loss")) == 8, what="every second batch")
    assert [step for step, _ in series(store, run.id, "batch/loss")] == [2, 4, 6, 8, 10, 12, 14, 16]
    assert [step for step, _ in series(store, run.id, "batch/mae")] == [2, 4, 6, 8, 10, 12, 14, 16]
    for key in ("loss", "mae", "val_loss", "val_mae"):  # epoch metrics, exactly what History kept
        assert series(store, run.id, key) == [(8, history.history[key][0]), (16, history.history[key][1])]
    assert series(store, run.id, "epoch") == [(8, 0.0), (16, 1.0)]


def test_a_nan_loss_is_logged_before_terminate_on_nan_stops_and_the_run_fails_with_the_reason(
    emitter_env, service_factory
):
    service = service_factory()
    callback = RunwatchCallback(project="keras-nan", batch_every=None)
    # our callback after TerminateOnNaN: it still sees the batch that made Keras stop
    keras_models.fit(keras_models.two_layer(), [keras.callbacks.TerminateOnNaN(), callback], nan_batch=4)

    [alert] = fired(service, _run_id(callback))
    assert (alert.rule, alert.metric, alert.step) == ("nan", "loss", 4)
    [run] = ended_runs(service.store, "keras-nan")
    assert run.status == "failed"
    reason = "loss became nan at step 4; training was stopped early (TerminateOnNaN)"
    assert run.exit_info["traceback"] == reason
    assert reason in notes(service.store, run.id)
    loss = series(service.store, run.id, "loss")  # the batch's, then the cut-short epoch's
    assert [step for step, _ in loss] == [4, 4] and all(math.isnan(value) for _, value in loss)


def test_a_nan_loss_without_terminate_on_nan_fires_once_and_training_finishes(emitter_env, service_factory):
    service = service_factory()
    callback = RunwatchCallback(project="keras-nan-on", batch_every=None)
    keras_models.fit(keras_models.two_layer(), [callback], nan_batch=4)

    [alert] = fired(service, _run_id(callback))
    assert (alert.rule, alert.metric, alert.step) == ("nan", "loss", 4)
    [run] = ended_runs(service.store, "keras-nan-on")
    assert run.status == "finished"  # nothing stopped it: the NaN is the alert's business
    loss = series(service.store, run.id, "loss")
    assert [step for step, _ in loss] == [4, 8, 16] and all(math.isnan(value) for _, value in loss)


def test_an_exception_inside_fit_marks_the_run_failed_with_its_traceback(emitter_env, collector, store):
    script = """
from emitter.integrations.keras import RunwatchCallback
from tests.integrations import keras_models

keras_models.fit(keras_models.two_layer(raise_at=6), [RunwatchCallback(project="keras-fail", batch_every=1)])
"""
    done = run_python(script, emitter_env, timeout=300)
    assert done.returncode == 1 and "boom at batch 6" in done.stderr, done.stderr[-2000:]
    [run] = ended_runs(store, "keras-fail")
    assert run.status == "failed"
    assert "RuntimeError" in run.exit_info["traceback"] and "boom at batch 6" in run.exit_info["traceback"]
    assert [step for step, _ in series(store, run.id, "batch/loss")] == [1, 2, 3, 4, 5]
