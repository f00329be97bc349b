"""Through the MLflow API: a NaN reaches Slack; concurrent, out-of-order, retried batches are stored once."""

from __future__ import annotations

import math
import random
import threading
import time

import pytest

from emitter.events import parse_json_number
from tests.helpers import wait_for
from tests.mlflow.proxy import FlakyProxy

mlflow = pytest.importorskip("mlflow")
from mlflow.entities import Metric  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402


def test_a_nan_logged_through_mlflow_fires_the_nan_rule_and_reaches_slack(
    mlflow_api, service_factory, fake_slack, store
):
    service = service_factory(f"""
channels:
  hook: {{type: slack, webhook_url: "{fake_slack.webhook_url}"}}
rules:
  - {{name: loss-nan, metric: loss, condition: nonfinite, severity: critical, notify: [hook]}}
""")
    mlflow_api()
    mlflow.set_experiment("mlflow-alerts")
    with mlflow.start_run(run_name="nan-run") as run:
        mlflow.log_metric("loss", 0.5, step=0)
        mlflow.log_metric("loss", math.nan, step=1)

    [request] = fake_slack.wait_for(1, status=200)
    assert "loss-nan" in str(request.json()) and "nan-run" in str(request.json())
    [record] = [r for r in service.store.alerts.history(run_id=run.info.run_id) if r.state == "firing"]
    assert (record.rule, record.metric, record.step) == ("loss-nan", "loss", 1)
    assert math.isnan(parse_json_number(record.value))


def test_ten_threads_of_out_of_order_retried_batches_store_every_point_once(mlflow_api, collector, store):
    server = mlflow_api()
    threads, steps, keys = 10, 40, 5
    with FlakyProxy(server.url, match="/runs/log-batch", every=7) as proxy:
        client = MlflowClient(tracking_uri=proxy.url)
        experiment = client.create_experiment("concurrency")
        run_id = client.create_run(experiment).info.run_id
        errors: list[BaseException] = []

        def log(worker: int) -> None:
            order = list(range(steps))
            random.Random(worker).shuffle(order)
            try:
                for step in order:
                    now = int(time.time() * 1000)
                    metrics = [Metric(f"w{worker}/k{k}", float(step * 100 + k), now, step) for k in range(keys)]
                    client.log_batch(run_id, metrics=metrics)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        workers = [threading.Thread(target=log, args=(w,)) for w in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
    assert errors == []
    assert proxy.failed_after > 0 and proxy.failed_before > 0  # both kinds of retry happened
    points = sorted((p.key, p.step, p.value) for p in store.series.points(run_id))
    expected = sorted(
        (f"w{w}/k{k}", s, float(s * 100 + k)) for w in range(threads) for s in range(steps) for k in range(keys)
    )
    assert points == expected  # every point once: nothing lost, nothing doubled


def test_a_run_the_client_leaves_running_and_silent_is_marked_lost(mlflow_api, service_factory, store):
    service_factory("rules: []", lost_after=0.5, stall_interval=0.1)
    mlflow_api()
    run = MlflowClient().create_run("0")  # never ended, as a killed MLflow script leaves it
    assert store.runs.get(run.info.run_id).status == "running"
    wait_for(lambda: store.runs.get(run.info.run_id).status == "lost", what="the stall detector's verdict")
    assert MlflowClient().get_run(run.info.run_id).info.status == "KILLED"
