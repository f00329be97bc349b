"""The unmodified ``mlflow`` client against runwatch: what it logs is stored as runwatch runs, exactly."""

from __future__ import annotations

import math

import httpx
import pytest

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402


def test_a_typical_mlflow_script_becomes_a_runwatch_run(mlflow_api, collector, store):
    server = mlflow_api()
    mlflow.set_experiment("resnet")
    with mlflow.start_run(run_name="baseline") as run:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"batch": 32, "optimizer": "adam"})
        mlflow.set_tag("team", "vision")
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.9, "nan_metric": math.nan, "up": math.inf, "down": -math.inf}, step=5)
    run_id = run.info.run_id

    stored = store.runs.get(run_id)
    assert stored is not None and (stored.project, stored.name, stored.status) == ("resnet", "baseline", "finished")
    assert {k: stored.params[k] for k in ("lr", "batch", "optimizer")} == {"lr": "0.01", "batch": "32", "optimizer": "adam"}
    loss = [(p.step, p.value) for p in store.series.points(run_id, ["loss"])]
    assert loss == [(s, 1.0 / (s + 1)) for s in range(5)]
    values = {p.key: p.value for p in store.series.points(run_id, ["nan_metric", "up", "down"])}
    assert math.isnan(values["nan_metric"]) and values["up"] == math.inf and values["down"] == -math.inf

    client = MlflowClient()
    got = client.get_run(run_id)
    assert got.info.status == "FINISHED" and got.info.run_name == "baseline"
    assert got.data.params["lr"] == "0.01" and got.data.tags["team"] == "vision"
    assert math.isnan(got.data.metrics["nan_metric"]) and got.data.metrics["up"] == math.inf
    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == loss

    rest = httpx.get(f"{server.url}/api/v1/runs/{run_id}/metrics", params={"max_points": 0}).json()
    assert rest["series"]["nan_metric"]


def test_log_artifact_and_a_logged_model_round_trip_through_the_artifact_store(mlflow_api, collector, store, tmp_path):
    mlflow_api()
    notes = tmp_path / "notes.txt"
    notes.write_text("hello runwatch\n")
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "a.csv").write_text("x,y\n1,2\n")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(notes))
        mlflow.log_artifacts(str(tmp_path / "plots"), artifact_path="plots")
    run_id = run.info.run_id
    client = MlflowClient()
    listed = sorted((f.path, f.is_dir) for f in client.list_artifacts(run_id))
    assert listed == [("notes.txt", False), ("plots", True)]
    assert [f.path for f in client.list_artifacts(run_id, "plots")] == ["plots/a.csv"]
    back = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="notes.txt", dst_path=str(tmp_path / "dl"))
    assert open(back).read() == "hello runwatch\n"
    stored = {v.name: v for v in store.artifacts.for_run(run_id)}
    assert set(stored) == {"notes.txt", "plots/a.csv"}  # runwatch artifacts, listed and downloadable natively
