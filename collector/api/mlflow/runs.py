"""``/api/2.0/mlflow/runs/*`` (but metrics): create, get, update, delete, tags, params, search.

Every write is an event of the run on its shard stream (``writer.MlflowWriter``): ``run.start``
for ``create``, ``params`` for params and tags (tags as ``mlflow.tags/<key>``), ``status``
for ``update``. Reads come from the store once the write is committed.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from emitter.events import MAX_KEY_LENGTH, Kind
from emitter.events import RunStatus as Status

from ...store.search import FilterError
from ..auditing import record_async
from ..auth import Principal, require
from .common import Body, get_run, read_body, require_run, run_id_of, store_of, viewer, write, writer, writer_of
from .entities import (
    LIFECYCLE_PARAM,
    RUN_NAME_TAG,
    STATUS_FROM_MLFLOW,
    TAG_PREFIX,
    USER_PARAM,
    project_of,
    run_info,
    run_json,
)
from .errors import MlflowError, invalid
from .filters import translate_filter, translate_order
from .writer import Pending

router = APIRouter()
MAX_PARAM_VALUE = 6000  # MLflow's own limit
MAX_TAG_VALUE = 8000
MAX_SEARCH_RESULTS = 50_000


def check_key(key: Any, what: str) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise invalid(f"Invalid {what} name {str(key)[:100]!r}: 1 to {MAX_KEY_LENGTH} characters are required")
    if key.startswith(TAG_PREFIX) or any(ord(c) < 32 for c in key):
        raise invalid(f"Invalid {what} name {key[:100]!r}")
    return key


def check_value(value: Any, what: str, key: str, limit: int) -> str:
    text = "" if value is None else value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise invalid(f"{what} '{key}' had length {len(text)}, which exceeded length limit of {limit}")
    return text


def tag_params(tags: list[dict[str, Any]]) -> dict[str, str]:
    """MLflow tags as the run's ``mlflow.tags/<key>`` params."""
    out = {}
    for tag in tags:
        key = check_key(tag.get("key"), "tag")
        out[TAG_PREFIX + key] = check_value(tag.get("value"), "Tag value", key, MAX_TAG_VALUE)
    return out


def param_values(params: list[dict[str, Any]]) -> dict[str, str]:
    out = {}
    for param in params:
        key = check_key(param.get("key"), "param")
        out[key] = check_value(param.get("value"), "Param value", key, MAX_PARAM_VALUE)
    return out


async def check_params_unchanged(request: Request, run_id: str, params: dict[str, str]) -> None:
    """MLflow params are write-once: logging another value for a key is refused (the same one is fine)."""
    stored = await run_in_threadpool(store_of(request).runs.params, run_id)
    for key, value in params.items():
        if key in stored and stored[key] != value:
            raise invalid(
                f"Changing param values is not allowed. Param with key='{key}' was already logged with"
                f" value='{stored[key]}' for run ID='{run_id}'. Attempted logging new value '{value}'."
            )


@router.post("/runs/create", dependencies=writer)
async def create_run(request: Request) -> dict[str, Any]:
    body = await read_body(request)
    project = project_of(body.text("experiment_id"))
    tags = tag_params(body.items("tags"))
    name = body.text("run_name") or tags.get(TAG_PREFIX + RUN_NAME_TAG, "")
    start = body.integer("start_time")
    ts = start / 1000 if start is not None else time.time()
    run_id = uuid.uuid4().hex
    if not name:
        name = f"mlflow-{run_id[:8]}"
    tags[TAG_PREFIX + RUN_NAME_TAG] = name
    config: dict[str, Any] = {**tags, USER_PARAM: body.text("user_id")}
    payload = {"project": project, "name": name, "tags": ["mlflow"], "config": config, "env": {"source": "mlflow"}}
    await write(request, run_id, [Pending(Kind.RUN_START, payload, ts)], body)
    writer_of(request).remember(run_id)
    return {"run": run_json(await get_run(request, run_id))}


@router.get("/runs/get", dependencies=viewer)
async def get(request: Request) -> dict[str, Any]:
    run_id = run_id_of(await read_body(request))
    return {"run": run_json(await get_run(request, run_id))}


@router.post("/runs/update", dependencies=writer)
async def update_run(request: Request) -> dict[str, Any]:
    """``status`` becomes a status event (an ended status ends the run); ``run_name`` a tag."""
    body = await read_body(request)
    run_id = run_id_of(body)
    await require_run(request, run_id)
    events = []
    status = body.text("status")
    if status:
        if status not in STATUS_FROM_MLFLOW:
            raise invalid(f"Invalid run status {status[:40]!r}: one of {', '.join(STATUS_FROM_MLFLOW)}")
        payload: dict[str, Any] = {"status": STATUS_FROM_MLFLOW[status]}
        if payload["status"] == Status.FAILED:
            payload["message"] = "marked FAILED through the MLflow API"
        events.append(Pending(Kind.STATUS, payload, time.time()))
    name = body.text("run_name")
    if name:
        events.append(Pending(Kind.PARAMS, {"params": {TAG_PREFIX + RUN_NAME_TAG: name}}, time.time()))
    await write(request, run_id, events, body)
    return {"run_info": run_info(await get_run(request, run_id))}


@router.post("/runs/delete")
@router.post("/runs/restore")
async def delete_run(request: Request, who: Annotated[Principal, Depends(require("writer"))]) -> dict[str, Any]:
    """A deleted run is kept (runwatch deletes nothing) and shown with ``lifecycle_stage: deleted``; audited."""
    body = await read_body(request)
    run_id = run_id_of(body)
    await require_run(request, run_id)
    stage = "deleted" if request.url.path.endswith("/delete") else "active"
    await write(request, run_id, [Pending(Kind.PARAMS, {"params": {LIFECYCLE_PARAM: stage}}, time.time())], body)
    action = "run.delete" if stage == "deleted" else "run.restore"
    await record_async(request, who, action, f"run {run_id}", {"via": "mlflow"})
    return {}


@router.post("/runs/set-tag", dependencies=writer)
@router.post("/runs/delete-tag", dependencies=writer)
async def set_tag(request: Request) -> dict[str, Any]:
    body = await read_body(request)
    run_id = run_id_of(body)
    await require_run(request, run_id)
    key = check_key(body.data.get("key"), "tag")
    if request.url.path.endswith("/delete-tag"):
        value: str | None = None
    else:
        value = check_value(body.data.get("value"), "Tag value", key, MAX_TAG_VALUE)
    await write(request, run_id, [Pending(Kind.PARAMS, {"params": {TAG_PREFIX + key: value}}, time.time())], body)
    return {}


@router.post("/runs/log-parameter", dependencies=writer)
async def log_param(request: Request) -> dict[str, Any]:
    body = await read_body(request)
    run_id = run_id_of(body)
    await require_run(request, run_id)
    params = param_values([{"key": body.data.get("key"), "value": body.data.get("value")}])
    await check_params_unchanged(request, run_id, params)
    await write(request, run_id, [Pending(Kind.PARAMS, {"params": params}, time.time())], body)
    return {}


@router.post("/runs/search", dependencies=viewer)
async def search(request: Request) -> dict[str, Any]:
    """MLflow's filter and order_by, translated to runwatch's grammar (``filters.py``)."""
    body = await read_body(request)
    experiments = body.strings("experiment_ids")
    limit = body.integer("max_results", 1000) or 1000
    if not 1 <= limit <= MAX_SEARCH_RESULTS:
        raise invalid(f"Invalid value {limit} for parameter 'max_results': 1 to {MAX_SEARCH_RESULTS}")
    offset = _page_token(body)
    view = body.text("run_view_type", default="ACTIVE_ONLY")
    where = translate_filter(body.text("filter"), [project_of(e) for e in experiments])
    order = translate_order(body.strings("order_by"))
    store = store_of(request)

    def page() -> tuple[list[dict[str, Any]], bool]:
        try:
            found, more = store.runs.search(filter=where, sort=order, limit=limit, offset=offset)
        except FilterError as exc:
            raise invalid(f"Invalid filter {body.text('filter')[:200]!r}: {exc.message}") from None
        runs = []
        for entry in found:
            record = store.runs.get(entry["id"])
            if record is None:
                continue
            stage = record.params.get(LIFECYCLE_PARAM) or "active"
            if view == "ALL" or (view == "DELETED_ONLY") == (stage == "deleted"):
                runs.append(run_json(record))
        return runs, more

    runs, more = await run_in_threadpool(page)
    out: dict[str, Any] = {"runs": runs}
    if more:
        out["next_page_token"] = str(offset + limit)
    return out


def _page_token(body: Body) -> int:
    token = body.text("page_token")
    if not token:
        return 0
    if not token.isdigit():
        raise MlflowError("INVALID_PARAMETER_VALUE", "Invalid page token: pass back a next_page_token")
    return int(token)
