"""Model stages over REST: ``POST /api/v1/artifacts/{name}/aliases`` (writer) and ``GET /api/v1/aliases`` (viewer).

The logic is ``collector/promotion.py``, shared with ``runwatch model promote``. Registered
before the artifact routes, so ``/artifacts/{name}/aliases`` is never read as a version ref.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from emitter.artifact_paths import clean_name

from ..promotion import PromotionError, promote, resolve_project
from ..store.base import AliasMove, Store
from .auditing import actor, source
from .auth import Principal, require

router = APIRouter(tags=["artifacts"])


class AliasIn(BaseModel):
    alias: str = Field(..., min_length=1, max_length=200, description="staging, production, or any name")
    version: int | str = Field(..., description="3, 'v3', 'latest', or the alias now on the version")
    project: str | None = Field(None, min_length=1, max_length=200, description="needed when the name is in several")


def move_json(move: AliasMove) -> dict[str, Any]:
    return {
        "project": move.project,
        "name": move.name,
        "alias": move.alias,
        "from_version": move.from_version,
        "to_version": move.to_version,
        "run_id": move.run_id,
        "by": move.by,
        "at": move.at,
    }


@router.post("/artifacts/{name:path}/aliases")
def move_alias(
    request: Request, name: str, body: AliasIn, who: Annotated[Principal, Depends(require("writer"))]
) -> dict[str, Any]:
    """Point an alias of a ``model`` artifact at one of its versions (recorded in its history and the audit log)."""
    store: Store = request.app.state.store
    try:
        done = promote(
            store,
            name,
            str(body.version),
            body.alias,
            project=body.project,
            who=actor(who),
            source=source(request),
            now=request.app.state.clock(),
        )
    except PromotionError as exc:
        raise HTTPException(exc.status, exc.message) from None
    return {**move_json(done.move), "changed": done.changed}


@router.get("/aliases", dependencies=[Depends(require("viewer"))])
def alias_history(
    request: Request,
    name: Annotated[str, Query(min_length=1, max_length=1000)],
    project: Annotated[str | None, Query(max_length=200)] = None,
    alias: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Every time an alias of artifact ``name`` was set or moved, newest first."""
    store: Store = request.app.state.store
    try:
        name = clean_name(name)
        project = resolve_project(store, name, project)
    except ValueError as exc:
        status = exc.status if isinstance(exc, PromotionError) else 400
        raise HTTPException(status, str(exc)) from None
    moves = store.artifacts.alias_history(project, name, alias, limit)
    return {"project": project, "name": name, "moves": [move_json(m) for m in moves]}
