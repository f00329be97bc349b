"""What every MLflow route needs: the request's JSON, typed fields, the run, the writer, the roles."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from emitter.events import Kind

from ...store.base import Store
from ...store.records import RunRecord
from ..auth import require
from .errors import MlflowError, invalid, not_found
from .writer import MlflowWriter, Pending, request_digest

APPENDS = frozenset({Kind.METRICS, Kind.SYSTEM, Kind.ARTIFACT})  # kinds whose repetition would store something twice
viewer = [Depends(require("viewer"))]
writer = [Depends(require("writer"))]


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def writer_of(request: Request) -> MlflowWriter:
    found: MlflowWriter = request.app.state.mlflow_writer
    return found


class Body:
    """A request's parameters: the JSON object of a POST/PATCH, the query string of a GET."""

    def __init__(self, data: dict[str, Any], raw: bytes) -> None:
        self.data = data
        self.raw = raw

    def text(self, name: str, *, required: bool = False, default: str = "") -> str:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise invalid(f"Missing value for required parameter '{name}'.")
            return default
        if not isinstance(value, str):
            raise invalid(f"Invalid value {str(value)[:100]!r} for parameter '{name}' supplied: a string is expected.")
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        try:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise invalid(
                f"Invalid value {str(value)[:100]!r} for parameter '{name}': an integer is expected."
            ) from None

    def items(self, name: str) -> list[dict[str, Any]]:
        value = self.data.get(name) or []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise invalid(f"Invalid value for parameter '{name}': a list of objects is expected.")
        return value

    def strings(self, name: str) -> list[str]:
        value = self.data.get(name) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise invalid(f"Invalid value for parameter '{name}': a list of strings is expected.")
        return value


async def read_body(request: Request) -> Body:
    """The request's parameters; a body that is not a JSON object is refused before anything is written."""
    if request.method in ("GET", "DELETE") and not request.headers.get("content-length"):
        data: dict[str, Any] = {}
        for key in request.query_params:
            values = request.query_params.getlist(key)
            data[key] = values if len(values) > 1 or key.endswith("_ids") else values[0]
        return Body(data, str(request.query_params).encode())
    raw = await request.body()
    if not raw.strip():
        return Body({}, raw)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MlflowError("MALFORMED_REQUEST", f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MlflowError("MALFORMED_REQUEST", "the request body must be a JSON object")
    return Body(data, raw)


def run_id_of(body: Body) -> str:
    """``run_id``, or the older ``run_uuid`` that 1.x clients still send."""
    run_id = body.text("run_id") or body.text("run_uuid")
    if not run_id:
        raise invalid("Missing value for required parameter 'run_id'.")
    return run_id


async def get_run(request: Request, run_id: str) -> RunRecord:
    run = await run_in_threadpool(store_of(request).runs.get, run_id)
    if run is None or run.id != run_id:
        raise not_found(f"Run with id={run_id} not found")
    return run


async def require_run(request: Request, run_id: str) -> None:
    """The run exists (a write to an unknown run is a 404); remembered, so a log call costs no store read."""
    writer = writer_of(request)
    if writer.knows(run_id):
        return
    if await run_in_threadpool(store_of(request).runs.resolve, run_id) != run_id:
        raise not_found(f"Run with id={run_id} not found")
    writer.remember(run_id)


async def write(request: Request, run_id: str, events: list[Pending], body: Body) -> None:
    """Write a request's events for a run: appends once across retries; answered once committed."""
    appends = any(event.kind in APPENDS for event in events)
    digest = request_digest(request.url.path, run_id, body.raw) if appends else None
    await writer_of(request).write(run_id, events, digest)
