"""``/api/2.0/mlflow/experiments/*``: an MLflow experiment is a runwatch project.

A project exists once it has a run. ``create`` of a project without runs answers its id at
once (the id is the name), so ``set_experiment`` → ``start_run`` works; the experiment is
listed from its first run on. Experiment tags are accepted and not kept (runwatch projects
carry none).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from .common import read_body, store_of, viewer, writer
from .entities import DEFAULT_PROJECT, experiment_json, project_of
from .errors import MlflowError, invalid, not_found

router = APIRouter()
MAX_NAME = 250


def _project_row(request: Request, project: str) -> tuple[str, float, float] | None:
    for row in store_of(request).runs.project_list():
        if row[0] == project:
            return row
    return None


async def _experiment(request: Request, project: str, *, must_exist: bool) -> dict[str, Any]:
    row = await run_in_threadpool(_project_row, request, project)
    if row is None:
        if must_exist:
            raise not_found(f"Could not find experiment with name '{project}'")
        return experiment_json(project)
    return experiment_json(*row)


@router.get("/experiments/get-by-name", dependencies=viewer)
async def get_by_name(request: Request) -> dict[str, Any]:
    name = (await read_body(request)).text("experiment_name", required=True)
    if name == DEFAULT_PROJECT:
        return {"experiment": await _experiment(request, name, must_exist=False)}
    return {"experiment": await _experiment(request, name, must_exist=True)}


@router.get("/experiments/get", dependencies=viewer)
async def get(request: Request) -> dict[str, Any]:
    experiment = (await read_body(request)).text("experiment_id", required=True)
    return {"experiment": await _experiment(request, project_of(experiment), must_exist=False)}


@router.post("/experiments/create", dependencies=writer)
async def create(request: Request) -> dict[str, Any]:
    body = await read_body(request)
    name = body.text("name", required=True)
    if len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise invalid(f"Invalid experiment name: at most {MAX_NAME} printable characters")
    body.items("tags")  # shape-checked, not kept
    return {"experiment_id": experiment_json(name)["experiment_id"]}


@router.post("/experiments/search", dependencies=viewer)
async def search(request: Request) -> dict[str, Any]:
    """Every project with runs (``filter`` on ``name`` with ``=``/``LIKE`` only), newest first."""
    body = await read_body(request)
    limit = body.integer("max_results", 1000) or 1000
    offset = int(body.text("page_token") or 0)
    rows = await run_in_threadpool(store_of(request).runs.project_list)
    wanted = _name_filter(body.text("filter"))
    rows = [row for row in rows if wanted(row[0])]
    rows.sort(key=lambda row: row[2], reverse=True)
    page = rows[offset : offset + limit]
    out: dict[str, Any] = {"experiments": [experiment_json(*row) for row in page]}
    if offset + limit < len(rows):
        out["next_page_token"] = str(offset + limit)
    return out


def _name_filter(text: str) -> Any:
    """``name = 'x'``, ``name LIKE 'x%'`` (MLflow's usual experiment filters), else everything."""
    import fnmatch
    import re

    if not text.strip():
        return lambda name: True
    match = re.fullmatch(r"\s*(?:attribute\.)?name\s*(=|!=|LIKE|ILIKE)\s*'([^']*)'\s*", text, re.IGNORECASE)
    if match is None:
        raise invalid(f"Unsupported experiment filter {text[:200]!r}: use name = '...' or name LIKE '...'")
    op, value = match.group(1).upper(), match.group(2)
    pattern = value.replace("%", "*").replace("_", "?")
    if op == "=":
        return lambda name: name == value
    if op == "!=":
        return lambda name: name != value
    if op == "LIKE":
        return lambda name: fnmatch.fnmatchcase(name, pattern)
    return lambda name: fnmatch.fnmatchcase(name.lower(), pattern.lower())


@router.post("/experiments/set-experiment-tag", dependencies=writer)
async def set_experiment_tag(request: Request) -> dict[str, Any]:
    body = await read_body(request)
    body.text("experiment_id", required=True)
    body.text("key", required=True)
    return {}


@router.post("/experiments/delete", dependencies=writer)
@router.post("/experiments/restore", dependencies=writer)
@router.post("/experiments/update", dependencies=writer)
async def unsupported(request: Request) -> dict[str, Any]:
    raise MlflowError("BAD_REQUEST", "runwatch projects cannot be renamed, deleted or restored through MLflow's API")
