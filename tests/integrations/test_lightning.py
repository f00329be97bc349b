"""Lightning: a real Trainer on a two-layer module, through Redis and the collector into the store."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from emitter.integrations.lightning import RunwatchLogger
from tests.helpers import ROOT, wait_for
from tests.integrations import lightning_models
from tests.integrations.stored import ended_runs, fired, notes, series

pytestmark = [
    pytest.mark.integrations,
    # lightning 2.6 on torch 2.13: its own use of a torch API torch now deprecates
    pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated"),
]


def _run_id(logger) -> str:
    assert logger.run is not None, "the logger opened no run"
    return str(logger.run.id)


def test_a_fit_arrives_with_hyperparams_metrics_checkpoints_and_finished_and_test_joins_it(
    emitter_env, collector, store, tmp_path
):
    logger = RunwatchLogger(project="pl-it", tags=["two-layer"])
    trainer = lightning_models.trainer(logger, tmp_path)
    model = lightning_models.TwoLayer(lr=0.05, hidden=8)
    trainer.fit(model, lightning_models.loader(), lightning_models.loader(8, seed=1))

    [run] = ended_runs(store, "pl-it")
    assert (run.id, run.status, run.tags) == (_run_id(logger), "finished", ["two-layer"])
    assert logger.version == run.id and logger.name == "pl-it"
    assert {key: run.params[key] for key in ("lr", "hidden", "nan_at", "raise_at")} == {
        "lr": 0.05,
        "hidden": 8,
        "nan_at": None,
        "raise_at": None,
    }
    wait_for(lambda: len(series(store, run.id, "loss")) == 16, what="a loss per step")
    assert [step for step, _ in series(store, run.id, "loss")] == list(range(16))  # 2 epochs x 8 batches
    assert [step for step, _ in series(store, run.id, "val_loss")] == [7, 15]
    checkpoint = trainer.checkpoint_callback.best_model_path
    assert str(tmp_path) in checkpoint and run.id in checkpoint  # Lightning named its folder after the run
    assert any(text.startswith(f"checkpoint saved: {checkpoint}") for text in notes(store, run.id))

    [result] = trainer.test(model, lightning_models.loader(8, seed=2))
    wait_for(lambda: series(store, run.id, "test_loss"), what="the test metric")
    assert series(store, run.id, "test_loss") == [(16, result["test_loss"])]
    wait_for(lambda: store.runs.get(run.id).status == "finished", what="the resumed run finished again")


def test_a_nan_loss_fires_the_nan_rule(emitter_env, service_factory, tmp_path):
    service = service_factory()
    logger = RunwatchLogger(project="pl-nan")
    lightning_models.trainer(logger, tmp_path, epochs=1, enable_checkpointing=False).fit(
        lightning_models.TwoLayer(nan_at=3), lightning_models.loader(), lightning_models.loader(8, seed=1)
    )
    [alert] = fired(service, _run_id(logger))
    assert (alert.rule, alert.metric, alert.step) == ("nan", "loss", 3)
    wait_for(lambda: len(series(service.store, _run_id(logger), "loss")) == 8, what="every step's loss")
    values = [value for _, value in series(service.store, _run_id(logger), "loss")]
    assert all(math.isfinite(v) for v in values[:3]) and all(math.isnan(v) for v in values[3:])


def test_an_exception_in_training_step_marks_the_run_failed_with_its_traceback(emitter_env, collector, store, tmp_path):
    logger = RunwatchLogger(project="pl-fail")
    with pytest.raises(RuntimeError, match="boom at step 5"):
        lightning_models.trainer(logger, tmp_path, enable_checkpointing=False).fit(
            lightning_models.TwoLayer(raise_at=5), lightning_models.loader(), lightning_models.loader(8, seed=1)
        )
    [run] = ended_runs(store, "pl-fail")
    assert run.status == "failed"
    assert "RuntimeError: boom at step 5" in run.exit_info["traceback"]
    assert [step for step, _ in series(store, run.id, "loss")] == [0, 1, 2, 3, 4]


DDP_SCRIPT = """
import sys
from emitter.integrations.lightning import RunwatchLogger
from tests.integrations import lightning_models

logger = RunwatchLogger(project="pl-ddp")
trainer = lightning_models.trainer(logger, sys.argv[1], epochs=1, strategy="ddp", devices=2, enable_checkpointing=False)
trainer.fit(lightning_models.TwoLayer(), lightning_models.loader(), lightning_models.loader(8, seed=1))
print("rank", trainer.global_rank, "run", logger.run.id if logger.run else None)
"""


@pytest.mark.timeout(300)
def test_with_two_ranks_only_rank_zero_opens_a_run_and_logs(emitter_env, collector, store, tmp_path):
    script = tmp_path / "train_ddp.py"
    script.write_text(DDP_SCRIPT)  # Lightning's DDP launcher starts rank 1 by re-running this file
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "root")],
        env={**emitter_env, "PYTHONPATH": str(ROOT)},
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    reported = sorted(line.split() for line in done.stdout.splitlines() if line.startswith("rank "))
    assert [rank for _, rank, _, _ in reported] == ["0", "1"]
    assert reported[1][3] == "None"  # rank 1 opened nothing
    [run] = ended_runs(store, "pl-ddp")
    assert (run.id, run.status) == (reported[0][3], "finished")
    wait_for(lambda: len(series(store, run.id, "loss")) == 4, what="rank zero's losses")
    assert [step for step, _ in series(store, run.id, "loss")] == [0, 1, 2, 3]  # 32 samples / 2 ranks / 4
    assert len(store.runs.detail(run.id)["writers"]) == 1  # rank zero's process alone wrote to it
