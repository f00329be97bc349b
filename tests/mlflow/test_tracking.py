"""The unmodified ``mlflow`` client against runwatch: what it logs is stored as runwatch runs, exactly."""

from __future__ import annotations

import math
from pathlib import Path

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
    assert {k: stored.params[k] for k in ("lr", "batch", "optimizer")} == {
        "lr": "0.01",
        "batch": "32",
        "optimizer": "adam",
    }
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
    assert Path(back).read_text() == "hello runwatch\n"
    stored = {v.name: v for v in store.artifacts.for_run(run_id)}
    assert set(stored) == {"notes.txt", "plots/a.csv"}  # runwatch artifacts, listed and downloadable natively


def test_nan_and_infinities_read_back_exactly_through_runwatch_rest_and_cli(mlflow_api, collector, store, home):
    import json

    from click.testing import CliRunner

    from collector.cli import main

    server = mlflow_api()
    with mlflow.start_run(run_name="nonfinite") as run:
        for step, value in enumerate([0.5, math.nan, math.inf, -math.inf, -0.0]):
            mlflow.log_metric("loss", value, step=step)
    run_id = run.info.run_id
    export = httpx.get(f"{server.url}/api/v1/runs/{run_id}/export.csv").text
    assert [line.split(",")[-1] for line in export.splitlines()[1:]] == ["0.5", "nan", "inf", "-inf", "-0.0"]
    result = CliRunner().invoke(main, ["export", run_id, "--home", str(home), "--format", "jsonl"])
    assert [json.loads(line)["value"] for line in result.output.splitlines()][:4] == [
        0.5,
        "NaN",
        "Infinity",
        "-Infinity",
    ]
    nan = next(p.value for p in store.series.points(run_id, ["loss"]) if p.step == 1)
    assert nan != nan  # NaN exact, not None or a string


def test_search_runs_with_a_filter_and_end_run_finished_or_failed(mlflow_api, collector):
    mlflow_api()
    experiment = mlflow.set_experiment("search-me").experiment_id
    for lr, status in ((0.1, "FINISHED"), (0.01, "FAILED"), (0.001, "FINISHED")):
        with mlflow.start_run(run_name=f"lr-{lr}"):
            mlflow.log_param("lr", lr)
            mlflow.set_tag("family", "small" if lr < 0.05 else "big")
            mlflow.log_metric("acc", 1 - lr)
            if status == "FAILED":
                mlflow.end_run(status="FAILED")
    client = MlflowClient()
    found = client.search_runs([experiment], filter_string="metrics.acc > 0.95 and tags.family = 'small'")
    assert sorted(r.info.run_name for r in found) == ["lr-0.001", "lr-0.01"]
    failed = client.search_runs([experiment], filter_string="attributes.status = 'FAILED'")
    assert [r.info.run_name for r in failed] == ["lr-0.01"]
    by_param = client.search_runs([experiment], filter_string="params.lr = '0.1'")
    assert [(r.info.run_name, r.info.status) for r in by_param] == [("lr-0.1", "FINISHED")]
    ordered = client.search_runs([experiment], order_by=["metrics.acc DESC"])
    assert [r.info.run_name for r in ordered] == ["lr-0.001", "lr-0.01", "lr-0.1"]
    assert [e.name for e in client.search_experiments(filter_string="name = 'search-me'")] == ["search-me"]


def test_malformed_requests_get_mlflow_shaped_errors_and_lose_nothing(mlflow_api, collector, store):
    server = mlflow_api()
    with mlflow.start_run() as run:
        mlflow.log_metric("loss", 1.0, step=0)
    run_id = run.info.run_id
    api = f"{server.url}/api/2.0/mlflow"
    refused = {
        "not json": httpx.post(f"{api}/runs/log-batch", content=b"{nope"),
        "bad value": httpx.post(
            f"{api}/runs/log-batch",
            json={
                "run_id": run_id,
                "metrics": [
                    {"key": "loss", "value": 2.0, "timestamp": 1, "step": 1},
                    {"key": "loss", "value": "high", "timestamp": 1, "step": 2},
                ],
            },
        ),
        "too many": httpx.post(
            f"{api}/runs/log-batch",
            json={
                "run_id": run_id,
                "metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": s} for s in range(1001)],
            },
        ),
        "no run": httpx.post(f"{api}/runs/log-metric", json={"run_id": "nope", "key": "x", "value": 1, "timestamp": 1}),
        "bad status": httpx.post(f"{api}/runs/update", json={"run_id": run_id, "status": "DONE"}),
    }
    httpx.post(f"{api}/runs/log-parameter", json={"run_id": run_id, "key": "lr", "value": "0.1"}).raise_for_status()
    refused["param changed"] = httpx.post(
        f"{api}/runs/log-parameter", json={"run_id": run_id, "key": "lr", "value": "1"}
    )
    codes = {what: (r.status_code, r.json()["error_code"]) for what, r in refused.items()}
    assert codes == {
        "not json": (400, "MALFORMED_REQUEST"),
        "bad value": (400, "INVALID_PARAMETER_VALUE"),
        "too many": (400, "INVALID_PARAMETER_VALUE"),
        "no run": (404, "RESOURCE_DOES_NOT_EXIST"),
        "bad status": (400, "INVALID_PARAMETER_VALUE"),
        "param changed": (400, "INVALID_PARAMETER_VALUE"),
    }
    assert "at most 1000 metrics" in refused["too many"].json()["message"]
    assert "'high'" in refused["bad value"].json()["message"]
    # nothing of a refused batch is stored (not even its good first metric), and what came before is intact
    assert [(p.step, p.value) for p in store.series.points(run_id)] == [(0, 1.0)]
    assert store.runs.get(run_id).params["lr"] == "0.1"
    missing = httpx.get(f"{api}/experiments/get-by-name", params={"experiment_name": "absent"})
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    info = httpx.get(f"{server.url}/api/3.0/mlflow/server-info")
    assert (info.status_code, info.json()["error_code"]) == (404, "ENDPOINT_NOT_FOUND")


def test_mlflow_tracking_token_is_a_runwatch_token_with_its_roles(mlflow_api, collector, store, monkeypatch):
    server = mlflow_api(auth=True)
    _, writer_token = store.tokens.create("writer", "ci", 0.0)
    _, viewer_token = store.tokens.create("viewer", "dash", 0.0)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", writer_token)
    with mlflow.start_run() as run:
        mlflow.log_metric("loss", 0.1)
    api = f"{server.url}/api/2.0/mlflow"
    anonymous = httpx.get(f"{api}/runs/get", params={"run_id": run.info.run_id})
    assert (anonymous.status_code, anonymous.json()["error_code"]) == (401, "UNAUTHENTICATED")
    body = {"run_id": run.info.run_id, "key": "x", "value": 1, "timestamp": 1}
    unauthenticated = httpx.post(f"{api}/runs/log-metric", json=body)
    assert (unauthenticated.status_code, unauthenticated.json()["error_code"]) == (401, "UNAUTHENTICATED")
    as_viewer = httpx.post(f"{api}/runs/log-metric", json=body, headers={"authorization": f"Bearer {viewer_token}"})
    assert (as_viewer.status_code, as_viewer.json()["error_code"]) == (403, "PERMISSION_DENIED")
    basic = httpx.get(f"{api}/runs/get", params={"run_id": run.info.run_id}, auth=("anyone", viewer_token))
    assert basic.status_code == 200 and basic.json()["run"]["data"]["metrics"][0]["key"] == "loss"


def test_a_metric_key_past_the_per_run_limit_is_refused_at_once_and_the_run_keeps_logging(mlflow_api, collector, store):
    from mlflow.entities import Metric

    from emitter.events import MAX_KEYS_PER_RUN

    mlflow_api()
    client = MlflowClient()
    run_id = client.create_run("0").info.run_id
    for start in range(0, MAX_KEYS_PER_RUN, 1000):
        client.log_batch(run_id, metrics=[Metric(f"k{i}", 1.0, 1, 0) for i in range(start, start + 1000)])
    with pytest.raises(mlflow.exceptions.MlflowException) as refused:
        client.log_metric(run_id, "one-too-many", 1.0)
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE" and "limit of 10,000" in refused.value.message
    client.log_metric(run_id, "k0", 2.0, step=1)  # a known key still logs
    assert len(store.series.keys(run_id)) == MAX_KEYS_PER_RUN
    assert [p.value for p in store.series.points(run_id, ["k0"])] == [1.0, 2.0]
    assert store.dead_letters.count() == 0


def test_a_deleted_run_is_kept_and_searched_only_when_asked_for(mlflow_api, collector, store):
    from mlflow.entities import ViewType

    mlflow_api()
    client = MlflowClient()
    experiment = client.create_experiment("deletions")
    kept, deleted = (client.create_run(experiment).info.run_id for _ in range(2))
    client.delete_run(deleted)
    assert client.get_run(deleted).info.lifecycle_stage == "deleted"
    assert [r.info.run_id for r in client.search_runs([experiment])] == [kept]
    assert [r.info.run_id for r in client.search_runs([experiment], run_view_type=ViewType.DELETED_ONLY)] == [deleted]
    assert len(client.search_runs([experiment], run_view_type=ViewType.ALL)) == 2
    client.restore_run(deleted)
    assert client.get_run(deleted).info.lifecycle_stage == "active"
    client.delete_run(deleted)  # the same request as the first delete: applied again, not taken for a retry
    assert client.get_run(deleted).info.lifecycle_stage == "deleted"
    for value in ("a", "b", "a"):
        client.set_tag(kept, "stage", value)
    assert client.get_run(kept).data.tags["stage"] == "a"
    assert store.runs.get(deleted) is not None  # runwatch deletes nothing
    audited = [(e.action, e.target) for e in reversed(store.audit.list(action="run"))]  # newest first
    assert audited == [
        ("run.delete", f"run {deleted}"),
        ("run.restore", f"run {deleted}"),
        ("run.delete", f"run {deleted}"),
    ]
