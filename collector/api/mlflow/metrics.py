"""``runs/log-metric``, ``runs/log-batch`` and ``metrics/get-history``.

Values arrive as JSON numbers or as MLflow's strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``
and are read with the contract's ``parse_json_number``, so the store and the alert rules see
exactly NaN/±Inf. A request is checked whole before anything is written: one bad metric
refuses the request (400, MLflow's message), and nothing of it is stored.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from emitter.events import MAX_KEYS_PER_RUN, Kind, parse_json_number

from .common import Body, read_body, require_run, run_id_of, store_of, viewer, write, writer
from .entities import metric_json
from .errors import invalid
from .runs import check_key, check_params_unchanged, param_values, tag_params
from .system import is_system, system_name
from .writer import Pending

router = APIRouter()
MAX_METRICS = 1000  # MLflow's limits of one log-batch request
MAX_PARAMS = 100
MAX_TAGS = 100
MAX_ENTITIES = 1000
HISTORY_PAGE = 25_000
MAX_STEP = (1 << 63) - 1


def _metric(item: dict[str, Any]) -> tuple[str, float, int, float]:
    """(key, value, step, ts) of one MLflow ``Metric``; a bad one is refused with the reason."""
    key = check_key(item.get("key"), "metric")
    if "value" not in item:
        raise invalid(f"Missing value for required parameter 'value' of metric '{key}'")
    try:
        value = parse_json_number(item["value"])
    except ValueError as exc:
        raise invalid(f"Invalid value for metric '{key}': {exc}") from None
    step_raw = item.get("step", 0)
    stamp_raw = item.get("timestamp")
    try:
        step = int(step_raw or 0)
        if isinstance(step_raw, bool) or (isinstance(step_raw, float) and not step_raw.is_integer()):
            raise ValueError
        stamp = time.time() * 1000 if stamp_raw in (None, "") else float(stamp_raw)
    except (TypeError, ValueError):
        raise invalid(f"Invalid step or timestamp for metric '{key}'") from None
    if not -MAX_STEP <= step <= MAX_STEP or not 0 <= stamp < 1e15:
        raise invalid(f"Step or timestamp of metric '{key}' is out of range")
    return key, value, step, stamp / 1000


def metric_events(items: list[dict[str, Any]]) -> list[Pending]:
    """Metrics as ``metrics`` events (MLflow's ``system/…`` ones as ``system`` events, renamed):
    consecutive ones of one kind, step and time share an event."""
    events: list[Pending] = []
    current: dict[str, float] = {}
    at: tuple[Kind, int, float] | None = None
    for item in items:
        key, value, step, ts = _metric(item)
        kind = Kind.SYSTEM if is_system(key) else Kind.METRICS
        if kind is Kind.SYSTEM:
            key, value = system_name(key, value)
        if at != (kind, step, ts) or key in current:
            current = {}
            at = (kind, step, ts)
            events.append(Pending(kind, {"step": step, "values": current}, ts))
        current[key] = value
    return events


class KeyBudget:
    """The metric keys of recent runs, so a request past the contract's per-run limit is refused here (400)
    instead of being dead-lettered by the collector after its answer went out.

    A run's keys are read from the store once, then grown by what this process writes; only the
    ``MAX_RUNS`` most recent runs are kept (another writer's new keys are the collector's to refuse).
    """

    MAX_RUNS = 100

    def __init__(self) -> None:
        self._runs: OrderedDict[str, set[str]] = OrderedDict()

    async def admit(self, request: Request, run_id: str, events: list[Pending]) -> None:
        wanted = {key for event in events for key in event.payload["values"]}
        known = self._runs.get(run_id)
        if known is None:
            known = set(await run_in_threadpool(store_of(request).series.keys, run_id))
            self._runs[run_id] = known
            if len(self._runs) > self.MAX_RUNS:
                self._runs.popitem(last=False)
        self._runs.move_to_end(run_id)
        new = wanted - known
        if new and len(known) + len(new) > MAX_KEYS_PER_RUN:
            raise invalid(
                f"Run {run_id} has {len(known):,} metric keys; {len(new)} more would pass runwatch's limit of"
                f" {MAX_KEYS_PER_RUN:,} per run"
            )
        known |= new


def _budget(request: Request) -> KeyBudget:
    budget: KeyBudget = request.app.state.mlflow_keys
    return budget


@router.post("/runs/log-metric", dependencies=writer)
async def log_metric(request: Request) -> dict[str, Any]:
    body = await read_body(request)
    run_id = run_id_of(body)
    events = metric_events([body.data])
    await require_run(request, run_id)
    await _budget(request).admit(request, run_id, events)
    await write(request, run_id, events, body)
    return {}


@router.post("/runs/log-batch", dependencies=writer)
async def log_batch(request: Request) -> dict[str, Any]:
    """Params, tags and metrics of one request, written as one entry (so all or nothing)."""
    body = await read_body(request)
    run_id = run_id_of(body)
    metrics, params, tags = body.items("metrics"), body.items("params"), body.items("tags")
    _check_limits(len(metrics), len(params), len(tags))
    param_map = param_values(params)
    tag_map = tag_params(tags)
    events = metric_events(metrics)
    await require_run(request, run_id)
    await _budget(request).admit(request, run_id, events)
    if param_map:
        await check_params_unchanged(request, run_id, param_map)
    settings: list[Pending] = []
    if param_map or tag_map:
        settings.append(Pending(Kind.PARAMS, {"params": {**param_map, **tag_map}}, time.time()))
    await write(request, run_id, settings + events, body)
    return {}


def _check_limits(metrics: int, params: int, tags: int) -> None:
    for count, limit, what in (
        (metrics, MAX_METRICS, "metrics"),
        (params, MAX_PARAMS, "params"),
        (tags, MAX_TAGS, "tags"),
    ):
        if count > limit:
            raise invalid(f"A batch logging request can contain at most {limit} {what}. Got {count} {what}.")
    if metrics + params + tags > MAX_ENTITIES:
        raise invalid(
            f"A batch logging request can contain at most {MAX_ENTITIES} metrics, params and tags in total."
            f" Got {metrics + params + tags}."
        )


@router.get("/metrics/get-history", dependencies=viewer)
async def get_history(request: Request) -> dict[str, Any]:
    """Every point of one metric of a run, in step order, a page of at most ``max_results``."""
    body = await read_body(request)
    run_id = run_id_of(body)
    key = body.text("metric_key", required=True)
    stored_as = system_name(key, 0.0)[0] if is_system(key) else key  # its values in runwatch's units
    await require_run(request, run_id)
    limit = body.integer("max_results", HISTORY_PAGE) or HISTORY_PAGE
    offset = _offset(body)
    points = await run_in_threadpool(lambda: list(store_of(request).series.points(run_id, [stored_as])))
    page = points[offset : offset + limit]
    out: dict[str, Any] = {"metrics": [metric_json(key, p.value, p.step, p.ts) for p in page]}
    if offset + limit < len(points):
        out["next_page_token"] = str(offset + limit)
    return out


def _offset(body: Body) -> int:
    token = body.text("page_token")
    if token and not token.isdigit():
        raise invalid("Invalid page token: pass back a next_page_token")
    return int(token or 0)
