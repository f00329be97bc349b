"""The MLflow 2.22 client (in a venv of its own, built once under the cache dir) against runwatch's MLflow API."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import skip_unless

pytestmark = pytest.mark.integrations

SCRIPT = """
import math, sys, mlflow
from mlflow.tracking import MlflowClient
assert mlflow.__version__.startswith("2.22"), mlflow.__version__
mlflow.set_experiment("mlflow-2x")
with mlflow.start_run(run_name="two") as run:
    mlflow.log_params({"lr": 0.1})
    mlflow.set_tag("client", "2.22")
    for step, value in enumerate([1.0, math.nan, math.inf]):
        mlflow.log_metric("loss", value, step=step)
    mlflow.log_dict({"a": 1}, "config.json")
    mlflow.end_run(status="FAILED")
found = MlflowClient().search_runs([run.info.experiment_id], filter_string="tags.client = '2.22'")
assert [r.info.run_id for r in found] == [run.info.run_id]
print(run.info.run_id)
"""


def mlflow_2x_venv() -> Path:
    """``$XDG_CACHE_HOME/runwatch-tests/mlflow-2.22`` with ``mlflow-skinny==2.22.*``, built on first use."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    venv = cache / "runwatch-tests" / "mlflow-2.22"
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "mlflow-skinny==2.22.*"], capture_output=True, text=True
        )
        skip_unless(pip.returncode == 0, f"mlflow-skinny 2.22 could not be installed: {pip.stderr[-500:]}")
        (venv / ".installed").touch()
    return python


def test_the_mlflow_2_22_client_logs_into_runwatch(mlflow_api, collector, store):
    python = mlflow_2x_venv()
    server = mlflow_api()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["MLFLOW_TRACKING_URI"] = server.url
    out = subprocess.run([str(python), "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    run_id = out.stdout.strip().splitlines()[-1]
    run = store.runs.get(run_id)
    assert (run.project, run.name, run.status, run.params["lr"]) == ("mlflow-2x", "two", "failed", "0.1")
    loss = [p.value for p in store.series.points(run_id, ["loss"])]
    assert loss[0] == 1.0 and math.isnan(loss[1]) and loss[2] == math.inf
    assert [v.name for v in store.artifacts.for_run(run_id)] == ["config.json"]
