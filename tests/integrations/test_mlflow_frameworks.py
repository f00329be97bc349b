"""Framework code that speaks MLflow, unchanged, against runwatch's MLflow API."""

from __future__ import annotations

import pytest
import transformers

from tests.helpers import wait_for
from tests.integrations import hf_models

mlflow = pytest.importorskip("mlflow")
pytestmark = [
    pytest.mark.integrations,
    # MLflow's own chatter about its optional features (type hints, skops, pip inference)
    pytest.mark.filterwarnings("ignore::UserWarning:mlflow.*"),
    pytest.mark.filterwarnings("ignore::FutureWarning:mlflow.*"),
]


def test_sklearn_log_model_then_load_model_back_from_runwatch(mlflow_api, collector, store):
    import mlflow.sklearn
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    mlflow_api()
    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    y = np.array([1, 0, 1, 0])
    model = LogisticRegression().fit(x, y)
    mlflow.set_experiment("sklearn-mlflow")
    with mlflow.start_run() as run:
        # cloudpickle: 3.x defaults to skops, an extra package
        info = mlflow.sklearn.log_model(
            model, name="model", serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE
        )
    loaded = mlflow.sklearn.load_model(info.model_uri)
    assert (loaded.predict(x) == model.predict(x)).all()
    again = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    assert (again.predict(x) == model.predict(x)).all()
    names = {v.name for v in store.artifacts.for_run(run.info.run_id)}
    assert any(name.endswith("/MLmodel") for name in names)
    # the ready model is also one runwatch artifact of type model, with every file of it
    [native] = [v for v in store.artifacts.for_run(run.info.run_id) if v.type == "model"]
    assert native.name == "model" and native.metadata["mlflow_model_id"] == info.model_id
    assert "MLmodel" in {f.path for f in native.files}


def test_a_trainer_reporting_to_mlflow_arrives_with_its_params_and_loss_curve(
    mlflow_api, collector, store, tmp_path, monkeypatch
):
    mlflow_api()
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "hf-mlflow")
    trainer = hf_models.trainer(
        hf_models.tiny_bert(), tmp_path / "out", transformers.TrainerCallback(), report_to="mlflow"
    )
    trainer.train()
    while mlflow.active_run() is not None:
        mlflow.end_run()

    [run] = store.runs.recent(project="hf-mlflow")
    assert run.params["learning_rate"] == "0.001" and run.params["max_steps"] == "8"
    wait_for(lambda: store.runs.get(run.id).status == "finished", what="the run ended")
    loss = [(p.step, p.value) for p in store.series.points(run.id, ["loss"])]
    expected = [(int(e["step"]), float(e["loss"])) for e in trainer.state.log_history if "loss" in e]
    assert loss == expected and [step for step, _ in loss] == [2, 4, 6, 8]
