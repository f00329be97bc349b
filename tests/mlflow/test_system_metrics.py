"""MLflow's system metrics arrive under runwatch's own ``system/…`` names, as system values."""

from __future__ import annotations

import pytest

from collector.api.mlflow.system import system_name

mlflow = pytest.importorskip("mlflow")


def test_mlflow_system_metrics_are_stored_as_runwatch_system_series(mlflow_api, collector, store):
    mlflow_api()
    with mlflow.start_run() as run:
        mlflow.log_metrics(
            {
                "system/cpu_utilization_percentage": 42.0,
                "system/gpu_0_utilization_percentage": 3.0,
                "system/disk_available_megabytes": 1073.741824,  # 2**30 bytes: 1 GB in runwatch's unit
                "system/some_new_probe": 7.0,
                "loss": 0.5,
            },
            step=1,
        )
    run_id = run.info.run_id
    assert store.series.keys(run_id, kind="system") == [
        "system/cpu_percent",
        "system/disk/free_gb",
        "system/gpu/0/utilization",
        "system/some_new_probe",  # no runwatch counterpart: kept, still a system value
    ]
    assert store.series.keys(run_id, kind="metrics") == ["loss"]
    values = {p.key: p.value for p in store.series.points(run_id, store.series.keys(run_id, kind="system"))}
    assert values["system/cpu_percent"] == 42.0 and values["system/gpu/0/utilization"] == 3.0
    assert values["system/disk/free_gb"] == pytest.approx(1.0)


def test_the_gpu_idle_rule_sees_an_mlflow_jobs_gpu_under_the_samplers_name():
    assert system_name("system/gpu_3_utilization_percentage", 4.0) == ("system/gpu/3/utilization", 4.0)
    assert system_name("system/gpu_0_memory_usage_megabytes", 1.048576) == ("system/gpu/0/memory_used_mb", 1.0)
    assert system_name("system/system_memory_usage_percentage", 96.0) == ("system/memory/percent", 96.0)


def test_mlflow_reads_a_system_metric_back_by_its_own_name(mlflow_api, collector, store):
    from mlflow.tracking import MlflowClient

    mlflow_api()
    with mlflow.start_run() as run:
        for step in range(3):
            mlflow.log_metric("system/cpu_utilization_percentage", 10.0 * step, step=step)
    history = MlflowClient().get_metric_history(run.info.run_id, "system/cpu_utilization_percentage")
    assert [(m.key, m.step, m.value) for m in history] == [
        ("system/cpu_utilization_percentage", s, 10.0 * s) for s in range(3)
    ]
