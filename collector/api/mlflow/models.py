"""MLflow 3's logged models, and ``log-inputs`` / ``outputs`` / ``log-model`` (2.x).

A logged model lives with its source run: its record is the run's param
``mlflow.models/<model id>`` (a JSON object, rewritten as a ``params`` event on each change)
and its files are the run's artifacts under ``mlflow-models/<model id>/`` (``artifacts``).
Its id, ``m-<run id>-<random>``, names the run, so no table is needed. A model logged outside
a run is refused with a message saying so (runwatch keeps everything with a run).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from emitter.artifact_paths import clean_name, manifest_digest
from emitter.events import Kind

from ...store.records import RunRecord
from .artifacts import MODELS_PREFIX, newest_files, run_of_model
from .common import Body, get_run, read_body, run_id_of, store_of, viewer, write, writer
from .entities import MODEL_PREFIX, TAG_PREFIX, experiment_id, millis, project_of
from .errors import invalid, not_found
from .runs import param_values, tag_params
from .writer import Pending

router = APIRouter()
STATUSES = ("LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED")
LOG_MODEL_HISTORY = "mlflow.log-model.history"
MAX_SEARCHED_RUNS = 1000


def _record(run: RunRecord, model_id: str) -> dict[str, Any]:
    record = run.params.get(MODEL_PREFIX + model_id)
    if not isinstance(record, dict):
        raise not_found(f"Logged model with ID '{model_id}' not found")
    return record


def model_json(run: RunRecord, model_id: str, record: dict[str, Any]) -> dict[str, Any]:
    return {
        "info": {
            "model_id": model_id,
            "experiment_id": experiment_id(run.project),
            "name": record["name"],
            "creation_timestamp_ms": record["created"],
            "last_updated_timestamp_ms": record["updated"],
            "artifact_uri": f"mlflow-artifacts:/models/{model_id}/artifacts",
            "status": record["status"],
            "model_type": record.get("model_type", ""),
            "source_run_id": run.id,
            "status_message": record.get("status_message", ""),
            "tags": [{"key": k, "value": v} for k, v in sorted(record.get("tags", {}).items())],
        },
        "data": {
            "params": [{"key": k, "value": v} for k, v in sorted(record.get("params", {}).items())],
            "metrics": [],
        },
    }


async def _save(request: Request, run_id: str, model_id: str, record: dict[str, Any], body: Body) -> None:
    record["updated"] = millis(time.time())
    event = Pending(Kind.PARAMS, {"params": {MODEL_PREFIX + model_id: record}}, time.time())
    await write(request, run_id, [event], body)


async def _load(request: Request, model_id: str) -> tuple[RunRecord, dict[str, Any]]:
    run = await get_run(request, run_of_model(model_id))
    return run, _record(run, model_id)


@router.post("/logged-models", dependencies=writer)
async def create(request: Request) -> dict[str, Any]:
    body = await read_body(request)
    run_id = body.text("source_run_id")
    if not run_id:
        raise invalid("runwatch keeps a logged model with the run that logged it: log the model inside a run")
    run = await get_run(request, run_id)
    if body.text("experiment_id") and project_of(body.text("experiment_id")) != run.project:
        raise invalid(f"Run {run_id} is not in experiment {body.text('experiment_id')}")
    model_id = f"m-{run_id}-{uuid.uuid4().hex[:8]}"
    now = millis(time.time())
    record = {
        "name": body.text("name") or "model",
        "model_type": body.text("model_type"),
        "status": "LOGGED_MODEL_PENDING",
        "created": now,
        "updated": now,
        "params": param_values(body.items("params")),
        "tags": {k[len(TAG_PREFIX) :]: v for k, v in tag_params(body.items("tags")).items()},
    }
    await _save(request, run_id, model_id, record, body)
    return {"model": model_json(await get_run(request, run_id), model_id, record)}


@router.get("/logged-models/{model_id}", dependencies=viewer)
async def get(request: Request, model_id: str) -> dict[str, Any]:
    run, record = await _load(request, model_id)
    return {"model": model_json(run, model_id, record)}


@router.patch("/logged-models/{model_id}", dependencies=writer)
async def finalize(request: Request, model_id: str) -> dict[str, Any]:
    body = await read_body(request)
    status = body.data.get("status")
    if isinstance(status, int):  # the enum's number
        status = STATUSES[status - 1] if 1 <= status <= len(STATUSES) else None
    if status not in STATUSES:
        raise invalid(f"Invalid logged model status {str(status)[:40]!r}: one of {', '.join(STATUSES)}")
    run, record = await _load(request, model_id)
    record["status"] = status
    record["updated"] = millis(time.time())
    events = [Pending(Kind.PARAMS, {"params": {MODEL_PREFIX + model_id: record}}, time.time())]
    if status == "LOGGED_MODEL_READY":
        events.extend(await _model_artifact(request, run.id, model_id, record))
    await write(request, run.id, events, body)
    return {"model": model_json(run, model_id, record)}


async def _model_artifact(request: Request, run_id: str, model_id: str, record: dict[str, Any]) -> list[Pending]:
    """A ready model as one runwatch artifact of type ``model`` (its files, versioned by name), so
    runwatch's model views, aliases and lineage treat an MLflow model like a native one."""
    versions = await run_in_threadpool(store_of(request).artifacts.for_run, run_id)
    prefix = f"{MODELS_PREFIX}{model_id}/"
    found = [
        (path[len(prefix) :], file.sha256, file.size)
        for path, file in sorted(newest_files(versions).items())
        if path.startswith(prefix)
    ]
    files = [{"path": path, "sha256": sha, "size": size} for path, sha, size in found]
    try:
        name = clean_name(record["name"])
    except ValueError:
        return []  # the model stays readable through MLflow; runwatch's own views cannot name it
    if not found:
        return []
    payload = {
        "name": name,
        "uri": f"models:/{model_id}",
        "size": sum(size for _, _, size in found),
        "sha256": manifest_digest(found),
        "type": "model",
        "files": files,
        "metadata": {"source": "mlflow-model", "mlflow_model_id": model_id, "model_type": record.get("model_type", "")},
    }
    return [Pending(Kind.ARTIFACT, payload, time.time())]


@router.patch("/logged-models/{model_id}/tags", dependencies=writer)
async def set_tags(request: Request, model_id: str) -> dict[str, Any]:
    body = await read_body(request)
    run, record = await _load(request, model_id)
    record.setdefault("tags", {}).update({k[len(TAG_PREFIX) :]: v for k, v in tag_params(body.items("tags")).items()})
    await _save(request, run.id, model_id, record, body)
    return {"model": model_json(run, model_id, record)}


@router.delete("/logged-models/{model_id}/tags/{key:path}", dependencies=writer)
async def delete_tag(request: Request, model_id: str, key: str) -> dict[str, Any]:
    body = await read_body(request)
    run, record = await _load(request, model_id)
    record.setdefault("tags", {}).pop(key, None)
    await _save(request, run.id, model_id, record, body)
    return {}


@router.post("/logged-models/{model_id}/params", dependencies=writer)
async def log_params(request: Request, model_id: str) -> dict[str, Any]:
    body = await read_body(request)
    run, record = await _load(request, model_id)
    record.setdefault("params", {}).update(param_values(body.items("params")))
    await _save(request, run.id, model_id, record, body)
    return {}


@router.post("/logged-models/search", dependencies=viewer)
async def search(request: Request) -> dict[str, Any]:
    """Models of the experiments' runs, newest first; ``filter``: ``field = 'value'`` joined by AND."""
    body = await read_body(request)
    wanted = _model_filter(body.text("filter"))
    projects = [project_of(e) for e in body.strings("experiment_ids")]
    limit = body.integer("max_results", 100) or 100
    offset = int(body.text("page_token") or 0) if body.text("page_token").isdigit() else 0
    store = store_of(request)

    def collect() -> list[dict[str, Any]]:
        scope = " or ".join(f"project = {json.dumps(p)}" for p in projects) or None
        found, _ = store.runs.search(filter=scope, limit=MAX_SEARCHED_RUNS)
        models = []
        for entry in found:
            run = store.runs.get(entry["id"])
            for key, record in run.params.items() if run else ():
                if run and key.startswith(MODEL_PREFIX) and isinstance(record, dict):
                    model = model_json(run, key[len(MODEL_PREFIX) :], record)
                    if all(str(model["info"].get(f)) == v for f, v in wanted):
                        models.append(model)
        return sorted(models, key=lambda m: -int(m["info"]["creation_timestamp_ms"]))

    models = await run_in_threadpool(collect)
    out: dict[str, Any] = {"models": models[offset : offset + limit]}
    if offset + limit < len(models):
        out["next_page_token"] = str(offset + limit)
    return out


_CONDITION = re.compile(r"\s*(?:attributes\.)?(\w+)\s*=\s*'([^']*)'\s*")


def _model_filter(text: str) -> list[tuple[str, str]]:
    conditions = []
    for part in re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE) if text.strip() else []:
        match = _CONDITION.fullmatch(part)
        if match is None or match.group(1) not in ("name", "source_run_id", "status", "model_type", "model_id"):
            raise invalid(f"Unsupported logged model filter {text[:200]!r}: use name/source_run_id/status = '...'")
        conditions.append((match.group(1), match.group(2)))
    return conditions


@router.post("/runs/log-inputs", dependencies=writer)
@router.post("/runs/outputs", dependencies=writer)
async def log_inputs(request: Request) -> dict[str, Any]:
    """Datasets and model links are accepted (the run must exist) and not kept yet."""
    body = await read_body(request)
    await get_run(request, run_id_of(body))
    body.items("datasets")
    body.items("models")
    return {}


@router.post("/runs/log-model", dependencies=writer)
async def log_model(request: Request) -> dict[str, Any]:
    """2.x: the model's MLmodel (as JSON) is appended to the run's ``mlflow.log-model.history`` tag."""
    body = await read_body(request)
    run = await get_run(request, run_id_of(body))
    try:
        model = json.loads(body.text("model_json", required=True))
    except ValueError:
        raise invalid("model_json is not valid JSON") from None
    raw = run.params.get(TAG_PREFIX + LOG_MODEL_HISTORY)
    history = json.loads(raw) if isinstance(raw, str) else []
    history.append(model)
    tag = {TAG_PREFIX + LOG_MODEL_HISTORY: json.dumps(history)}
    await write(request, run.id, [Pending(Kind.PARAMS, {"params": tag}, time.time())], body)
    return {}
