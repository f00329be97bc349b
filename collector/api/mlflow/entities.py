"""runwatch's records in MLflow's JSON shapes (``Experiment``, ``Run``, ``Metric``), and back.

The mapping, stated once:

- an MLflow experiment is a runwatch project; its id is the project's name (``"0"`` is the
  project ``Default``, MLflow's default experiment), so nothing needs a table of its own;
- an MLflow run is a runwatch run (same id); its params are the run's params; its tags are
  params under ``mlflow.tags/`` (runwatch tags are labels without values, MLflow's have
  values), which the dashboard shows as a nested ``mlflow.tags`` group;
- statuses: running → RUNNING, finished → FINISHED, failed → FAILED, killed and lost → KILLED.
"""

from __future__ import annotations

import json
from typing import Any

from emitter.events import json_number

from ...store.records import RunRecord

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_PROJECT = "Default"
TAG_PREFIX = "mlflow.tags/"
MODEL_PREFIX = "mlflow.models/"  # a logged model's record (``models``)
LIFECYCLE_PARAM = "mlflow.lifecycle_stage"
USER_PARAM = "mlflow.user_id"
RUN_NAME_TAG = "mlflow.runName"
STATUS_TO_MLFLOW = {"running": "RUNNING", "finished": "FINISHED", "failed": "FAILED", "killed": "KILLED"}
STATUS_FROM_MLFLOW = {"RUNNING": "running", "FINISHED": "finished", "FAILED": "failed", "KILLED": "killed"}
HIDDEN_PARAMS = (LIFECYCLE_PARAM, USER_PARAM)


def experiment_id(project: str) -> str:
    return DEFAULT_EXPERIMENT_ID if project == DEFAULT_PROJECT else project


def project_of(experiment: str) -> str:
    return DEFAULT_PROJECT if experiment in ("", DEFAULT_EXPERIMENT_ID) else experiment


def millis(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def experiment_json(project: str, created: float | None = None, updated: float | None = None) -> dict[str, Any]:
    """An ``Experiment``; its artifacts live with each run (``run_artifact_uri``)."""
    out: dict[str, Any] = {
        "experiment_id": experiment_id(project),
        "name": project,
        "artifact_location": "mlflow-artifacts:/runs",
        "lifecycle_stage": "active",
        "tags": [],
    }
    if created is not None:
        out["creation_time"] = millis(created)
    if updated is not None:
        out["last_update_time"] = millis(updated)
    return out


def run_artifact_uri(run_id: str) -> str:
    return f"mlflow-artifacts:/runs/{run_id}/artifacts"


def text_value(value: Any) -> str:
    """A stored param as MLflow's string (MLflow params are strings; runwatch's may be any JSON)."""
    return value if isinstance(value, str) else json.dumps(value)


def split_params(params: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """A run's stored params as MLflow's (params, tags); deleted tags (null) are left out."""
    plain: dict[str, str] = {}
    tags: dict[str, str] = {}
    for key, value in params.items():
        if key.startswith(TAG_PREFIX):
            if value is not None:
                tags[key[len(TAG_PREFIX) :]] = text_value(value)
        elif key not in HIDDEN_PARAMS and not key.startswith(MODEL_PREFIX):
            plain[key] = text_value(value)
    return plain, tags


def metric_json(key: str, value: float, step: int, ts: float) -> dict[str, Any]:
    return {"key": key, "value": json_number(value), "timestamp": int(ts * 1000), "step": step}


def run_info(run: RunRecord) -> dict[str, Any]:
    lifecycle = run.params.get(LIFECYCLE_PARAM) or "active"
    info: dict[str, Any] = {
        "run_id": run.id,
        "run_uuid": run.id,
        "run_name": run.name,
        "experiment_id": experiment_id(run.project),
        "user_id": text_value(run.params.get(USER_PARAM) or ""),
        "status": STATUS_TO_MLFLOW.get(run.status, "KILLED"),
        "start_time": millis(run.created_at),
        "artifact_uri": run_artifact_uri(run.id),
        "lifecycle_stage": lifecycle,
    }
    if run.ended_at is not None:
        info["end_time"] = millis(run.ended_at)
    return info


def run_json(run: RunRecord) -> dict[str, Any]:
    """A ``Run``: info, data (latest value of each metric, params, tags) and empty inputs/outputs."""
    params, tags = split_params(run.params)
    tags.setdefault(RUN_NAME_TAG, run.name)
    updated = run.last_event_at or run.updated_at
    metrics = [
        metric_json(summary.key, summary.last, summary.last_step, updated)
        for summary in run.metrics.values()
        if summary.count
    ]
    return {
        "info": run_info(run),
        "data": {
            "metrics": metrics,
            "params": [{"key": k, "value": v} for k, v in sorted(params.items())],
            "tags": [{"key": k, "value": v} for k, v in sorted(tags.items())],
        },
        "inputs": {},
        "outputs": {},
    }
