"""HF Transformers: a real Trainer on a tiny random BERT, through Redis and the collector into the store."""

from __future__ import annotations

import math

import pytest

from emitter.integrations.hf import RunwatchCallback
from tests.helpers import run_python, wait_for
from tests.integrations import hf_models
from tests.integrations.stored import ended_runs, fired, notes, series

pytestmark = pytest.mark.integrations


def _run_id(callback) -> str:
    assert callback.run is not None, "the callback opened no run"
    return str(callback.run.id)


def _expected_series(log_history: list[dict[str, float]]) -> dict[str, list[tuple[int, float]]]:
    """What on_log saw, by key: every numeric entry of Trainer's log history at its global step."""
    expected: dict[str, list[tuple[int, float]]] = {}
    for entry in log_history:
        for key, value in entry.items():
            if key != "step" and isinstance(value, (int, float)):
                expected.setdefault(key, []).append((int(entry["step"]), float(value)))
    return {key: sorted(points) for key, points in expected.items()}


def test_a_trainer_run_arrives_with_its_params_every_logged_metric_and_finished(
    emitter_env, collector, store, tmp_path
):
    callback = RunwatchCallback(project="hf-it", tags=["tiny"])
    trainer = hf_models.trainer(hf_models.tiny_bert(), tmp_path / "out", callback)
    trainer.train()

    [run] = ended_runs(store, "hf-it")
    assert run.id == _run_id(callback)
    assert (run.status, run.tags) == ("finished", ["tiny"])
    params = run.params
    assert (params["learning_rate"], params["per_device_train_batch_size"], params["max_steps"]) == (1e-3, 4, 8)
    assert (params["model.hidden_size"], params["model.num_hidden_layers"], params["model.vocab_size"]) == (16, 2, 64)
    assert params["model.num_parameters"] == trainer.model.num_parameters()
    expected = _expected_series(trainer.state.log_history)
    assert {"loss", "grad_norm", "learning_rate", "eval_loss", "train_loss"} <= expected.keys()
    assert [step for step, _ in expected["loss"]] == [2, 4, 6, 8]
    assert [step for step, _ in expected["eval_loss"]] == [4, 8]
    wait_for(lambda: store.series.count_points(run.id) == sum(map(len, expected.values())), what="every point")
    assert {key: series(store, run.id, key) for key in expected} == expected

    # an evaluate() after train() joins the same run (resumed under its id) and ends it again
    metrics = trainer.evaluate()
    wait_for(lambda: len(series(store, run.id, "eval_loss")) == 3, what="the later evaluation's point")
    assert series(store, run.id, "eval_loss")[-1] == (8, metrics["eval_loss"])
    wait_for(lambda: store.runs.get(run.id).status == "finished", what="the resumed run finished again")


def test_a_nan_loss_that_trainer_filters_out_of_its_logs_still_fires_the_nan_rule(
    emitter_env, service_factory, tmp_path
):
    service = service_factory()
    callback = RunwatchCallback(project="hf-nan")
    trainer = hf_models.trainer(hf_models.tiny_bert(nan_at=3), tmp_path / "out", callback)
    trainer.train()

    logged = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert logged and all(math.isfinite(value) for value in logged), "logging_nan_inf_filter hid the NaN from on_log"
    [alert] = fired(service, _run_id(callback))  # one episode: no finite loss in between resolves it
    assert (alert.rule, alert.metric, alert.step) == ("nan", "loss", 3)
    run_id = _run_id(callback)
    wait_for(lambda: len(series(service.store, run_id, "loss_filtered")) == 3, what="the filtered losses")
    loss = series(service.store, run_id, "loss")
    assert [step for step, _ in loss] == [2, 3, 4, 4, 5, 6, 6, 7, 8, 8]  # per step from 3 on, and each log
    assert math.isfinite(loss[0][1]) and all(math.isnan(value) for _, value in loss[1:])
    filtered = [(entry["step"], entry["loss"]) for entry in trainer.state.log_history if "loss" in entry][1:]
    assert series(service.store, run_id, "loss_filtered") == filtered  # Trainer's own figure is kept


def test_an_exception_in_training_marks_the_run_failed_caught_or_not(emitter_env, collector, store, tmp_path):
    script = f"""
from emitter.integrations.hf import RunwatchCallback
from tests.integrations import hf_models

caught = RunwatchCallback(project="hf-fail", name="caught")
try:
    hf_models.trainer(hf_models.tiny_bert(raise_at=3), {str(tmp_path / "a")!r}, caught).train()
except RuntimeError:
    pass  # the job carries on, then exits normally: the run must not read as finished
uncaught = RunwatchCallback(project="hf-fail", name="uncaught")
hf_models.trainer(hf_models.tiny_bert(raise_at=5), {str(tmp_path / "b")!r}, uncaught).train()
"""
    done = run_python(script, emitter_env, timeout=300)
    assert done.returncode == 1 and "RuntimeError: boom at forward 5" in done.stderr, done.stderr[-2000:]

    runs = {run.name: run for run in ended_runs(store, "hf-fail", 2)}
    caught, uncaught = runs["caught"], runs["uncaught"]
    assert caught.status == "failed" and caught.exit_info["exit_code"] == 1
    assert "training stopped before its end" in caught.exit_info["traceback"]
    assert any("training stopped before its end" in text for text in notes(store, caught.id))
    assert uncaught.status == "failed"
    assert "RuntimeError: boom at forward 5" in uncaught.exit_info["traceback"]
    assert [step for step, _ in series(store, caught.id, "loss")] == [2]  # logged before the fault
    assert [step for step, _ in series(store, uncaught.id, "loss")] == [2, 4]


def test_training_again_after_an_exception_fails_the_first_attempt_and_opens_a_new_run(
    emitter_env, collector, store, tmp_path
):
    callback = RunwatchCallback(project="hf-retry")
    with pytest.raises(RuntimeError, match="boom at forward 3"):
        hf_models.trainer(hf_models.tiny_bert(raise_at=3), tmp_path / "a", callback).train()
    first = _run_id(callback)
    hf_models.trainer(hf_models.tiny_bert(), tmp_path / "b", callback).train()

    failed, finished = ended_runs(store, "hf-retry", 2)
    assert (failed.id, failed.status) == (first, "failed")
    assert "training stopped before its end" in failed.exit_info["traceback"]
    assert (finished.id, finished.status) == (_run_id(callback), "finished")


def test_a_run_handed_in_gets_the_params_and_metrics_and_is_left_to_its_owner(emitter_env, collector, store, tmp_path):
    import emitter

    with emitter.init("hf-own", name="mine", config={"dataset": "parity"}) as run:
        hf_models.trainer(hf_models.tiny_bert(), tmp_path / "out", RunwatchCallback(run)).train()
        assert not run.finished
        run.log({"after_training": 1.0}, step=100)
    [stored] = ended_runs(store, "hf-own")
    assert (stored.id, stored.name, stored.status) == (run.id, "mine", "finished")
    assert stored.params["dataset"] == "parity" and stored.params["max_steps"] == 8
    assert [step for step, _ in series(store, run.id, "loss")] == [2, 4, 6, 8]
    assert series(store, run.id, "after_training") == [(100, 1.0)]
