"""REST routes under ``/api/v1``: runs, metrics, compare, export, alerts, dead letters.

Store reads are plain ``def`` handlers, so FastAPI runs them in its thread pool and a
slow query never stalls the event loop (live pushes, the consumer in ``runwatch serve``).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from emitter.events import MAX_PAYLOAD_BYTES, encode_entry, shard_for

from ..deadletter import describe
from ..export import csv_chunks
from ..store.base import AlertRecord, Store, UserAlert
from ..store.search import FilterError
from .auditing import record_async
from .auth import Principal, require
from .compare import compare_runs

router = APIRouter()
viewer = [Depends(require("viewer"))]
MAX_COMPARE = 20
MAX_OFFSET = 10_000_000  # runs skipped by a cursor: past it, narrow the filter


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _run_id(request: Request, ref: str) -> str:
    run_id = _store(request).runs.resolve(ref)
    if run_id is None:
        raise HTTPException(404, f"no run with id or unique name {ref!r}")
    return run_id


def _keys(keys: str | None) -> list[str] | None:
    if keys is None or not keys.strip():
        return None
    return [k.strip() for k in keys.split(",") if k.strip()]


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded))["o"]
        if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
            raise ValueError
        return offset
    except Exception:  # noqa: BLE001 - any malformed cursor is the caller's mistake
        raise HTTPException(
            400, f"malformed cursor (or one past {MAX_OFFSET:,} runs): pass back the next_cursor of a previous page"
        ) from None


def _filter_error(exc: FilterError, what: str) -> HTTPException:
    return HTTPException(400, {"error": f"invalid {what}: {exc.message}", "position": exc.position, what: exc.text})


@router.get("/runs", dependencies=viewer)
def list_runs(
    request: Request,
    filter: str | None = Query(None, description="e.g. params.lr = 0.01 and metrics.val/acc > 0.9"),
    sort: str | None = Query(None, description="e.g. -metrics.loss, name (default: created_at desc)"),
    limit: int = Query(50, ge=1, le=1000),
    cursor: str | None = Query(None, description="next_cursor of the previous page"),
) -> dict[str, Any]:
    """Runs matching a filter, sorted, one page at a time."""
    offset = _decode_cursor(cursor)
    try:
        runs, more = _store(request).runs.search(filter=filter, sort=sort, limit=limit, offset=offset)
    except FilterError as exc:
        is_sort = bool(sort) and exc.text == (sort or "").strip() and exc.text != filter
        raise _filter_error(exc, "sort" if is_sort else "filter") from None
    return {
        "runs": runs,
        "next_cursor": _encode_cursor(offset + limit) if more else None,
        "now": request.app.state.clock(),
    }


@router.get("/runs/{ref}", dependencies=viewer)
def get_run(request: Request, ref: str) -> dict[str, Any]:
    """A run's metadata, params, tags, notes, environment, status, metric summary and alerts."""
    store = _store(request)
    run_id = _run_id(request, ref)
    detail = store.runs.detail(run_id)
    if detail is None:
        raise HTTPException(404, f"no run {ref!r}")
    detail["alerts"] = [_alert(record) for record in store.alerts.history(run_id=run_id, limit=100)]
    detail["user_alerts"] = [
        {"ts": u.ts, "title": u.title, "text": u.text, "level": u.level}
        for u in reversed(store.alerts.user_alerts(run_id=run_id, limit=1000))
    ]
    detail["now"] = request.app.state.clock()
    return detail


@router.get("/runs/{ref}/metrics", dependencies=viewer)
def get_metrics(
    request: Request,
    ref: str,
    keys: str | None = Query(None, description="comma-separated metric keys (default: all)"),
    max_points: int = Query(1000, ge=0, le=1_000_000, description="buckets per series; 0 returns every point"),
    from_step: int | None = None,
    to_step: int | None = None,
) -> dict[str, Any]:
    """Series of a run, downsampled to ``max_points`` buckets keeping each bucket's min, max and last.

    Non-finite values are the strings "NaN", "Infinity" and "-Infinity".
    """
    run_id = _run_id(request, ref)
    data = _store(request).series.read(run_id, _keys(keys), max_points=max_points, from_step=from_step, to_step=to_step)
    return {"run": run_id, "max_points": max_points, "series": data}


@router.get("/runs/{ref}/export.csv", dependencies=viewer)
def export_csv(request: Request, ref: str) -> StreamingResponse:
    """Every point, exact: ``step,ts,key,value`` with Python float syntax (nan, inf, -inf, -0.0)."""
    run_id = _run_id(request, ref)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in run_id)
    return StreamingResponse(
        csv_chunks(_store(request).series.points(run_id)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{safe}.csv"'},
    )


@router.get("/compare", dependencies=viewer)
def compare(
    request: Request,
    runs: str = Query(..., description="comma-separated run ids or unique names"),
    keys: str | None = Query(None, description="metric keys to overlay (default: the most common, up to 8)"),
    max_points: int = Query(1000, ge=0, le=100_000),
) -> dict[str, Any]:
    """Params side by side (``differs`` marks the differing ones) and the chosen series of every run."""
    refs = [r.strip() for r in runs.split(",") if r.strip()]
    if not refs or len(refs) > MAX_COMPARE:
        raise HTTPException(400, f"give 1 to {MAX_COMPARE} runs")
    ids = [_run_id(request, ref) for ref in refs]
    return compare_runs(_store(request), ids, _keys(keys), max_points=max_points)


@router.get("/alerts", dependencies=viewer)
def get_alerts(
    request: Request,
    run: str | None = None,
    state: str | None = Query(None, description="e.g. firing or resolved"),
    limit: int = Query(200, ge=1, le=5000),
) -> dict[str, Any]:
    """Alerts from the rule engine and alerts raised by runs (``run.alert()``), newest first."""
    store = _store(request)
    run_id = _run_id(request, run) if run else None
    return {
        "alerts": [_alert(record) for record in store.alerts.history(run_id=run_id, state=state, limit=limit)],
        "user_alerts": [_user_alert(u) for u in store.alerts.user_alerts(run_id=run_id, limit=limit)],
    }


@router.get("/dead-letters", dependencies=viewer)
def get_dead_letters(request: Request, limit: int = Query(100, ge=1, le=5000)) -> dict[str, Any]:
    """Stream entries the collector could not store, with the reason, newest first."""
    letters = _store(request).dead_letters
    return {"total": letters.count(), "items": [describe(letter) for letter in letters.list(limit)]}


def _alert(record: AlertRecord) -> dict[str, Any]:
    """A rule alert as the API shows it: every field of the record, deliveries included."""
    return asdict(record)


def _user_alert(alert: UserAlert) -> dict[str, Any]:
    return asdict(alert)


# ------------------------------------------------------------------ writes: through the event stream


class NoteIn(BaseModel):
    text: str = Field(..., min_length=1, max_length=MAX_PAYLOAD_BYTES)


class TagsIn(BaseModel):
    tags: list[str] = Field(..., min_length=1, max_length=100)


async def _emit(request: Request, run_id: str, kind: str, payload: dict[str, Any]) -> str:
    """Append one event to the run's stream, as an emitter would: the collector stores it."""
    settings = request.app.state.settings
    writer_id = f"api-{uuid.uuid4().hex}"
    fields = encode_entry(run_id, writer_id, [[0, time.time(), kind, payload]])
    stream = settings.keys.stream(shard_for(run_id, settings.shards))
    entry_id = await request.app.state.redis.xadd(stream, fields)
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


@router.post("/runs/{ref}/notes", status_code=202)
async def add_note(
    request: Request, ref: str, body: NoteIn, who: Annotated[Principal, Depends(require("writer"))]
) -> dict[str, Any]:
    """Add a note to a run (stored by the collector from the event stream)."""
    from starlette.concurrency import run_in_threadpool

    run_id = await run_in_threadpool(_run_id, request, ref)
    entry = await _emit(request, run_id, "note", {"text": body.text})
    await record_async(request, who, "run.note", f"run {run_id}", {"text": body.text[:1000], "entry": entry})
    return {"run": run_id, "entry": entry}


@router.post("/runs/{ref}/tags", status_code=202)
async def add_tags(
    request: Request, ref: str, body: TagsIn, who: Annotated[Principal, Depends(require("writer"))]
) -> dict[str, Any]:
    """Add tags to a run."""
    from starlette.concurrency import run_in_threadpool

    if any(not t or len(t) > 250 for t in body.tags):
        raise HTTPException(422, "tags must be 1 to 250 characters")
    run_id = await run_in_threadpool(_run_id, request, ref)
    entry = await _emit(request, run_id, "tags", {"tags": body.tags})
    await record_async(request, who, "run.tags", f"run {run_id}", {"tags": body.tags, "entry": entry})
    return {"run": run_id, "entry": entry}
