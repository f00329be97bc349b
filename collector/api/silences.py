"""``/api/v1/silences``: mute notifications of matching alerts for a while (admin to change).

A silence matches on any of rule, run and project (every one given must equal the
alert's). While it is active, matching alerts are still recorded and pushed to live
views, but their deliveries are stored as ``silenced`` instead of being sent.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field, model_validator

from .auditing import record
from .auth import Principal, require

router = APIRouter(tags=["silences"])
Admin = Annotated[Principal, Depends(require("admin"))]
MAX_DURATION = 90 * 86400.0


class SilenceIn(BaseModel):
    rule: str | None = Field(None, min_length=1, max_length=200)
    run_id: str | None = Field(None, min_length=1, max_length=200)
    project: str | None = Field(None, min_length=1, max_length=200)
    duration: float = Field(..., gt=0, le=MAX_DURATION, description="Seconds from now (or from starts_at).")
    starts_at: float | None = Field(None, description="Unix time; default now.")
    comment: str = Field("", max_length=1000)

    @model_validator(mode="after")
    def _matches_something(self) -> SilenceIn:
        if self.rule is None and self.run_id is None and self.project is None:
            raise ValueError("give at least one of rule, run_id, project (a silence of everything is not allowed)")
        return self


@router.get("/silences", dependencies=[Depends(require("viewer"))])
def silences(request: Request, include_ended: bool = Query(False)) -> dict[str, Any]:
    """Active and scheduled silences (``include_ended`` adds the past ones)."""
    now = request.app.state.clock()
    return {"silences": request.app.state.store.silences.list(now, include_ended=include_ended)}


@router.post("/silences", status_code=201)
def create_silence(body: SilenceIn, request: Request, who: Admin) -> dict[str, Any]:
    now = request.app.state.clock()
    starts = body.starts_at if body.starts_at is not None else now
    if starts + body.duration <= now:
        raise HTTPException(
            422, "starts_at + duration is in the past: that silence would be over before it was created"
        )
    silence_id = request.app.state.store.silences.create(
        rule=body.rule,
        run_id=body.run_id,
        project=body.project,
        starts_at=starts,
        ends_at=starts + body.duration,
        comment=body.comment,
        created_by=who.name or who.via,
        now=now,
    )
    matchers = {"rule": body.rule, "run_id": body.run_id, "project": body.project}
    detail = {**{k: v for k, v in matchers.items() if v is not None}, "ends_at": starts + body.duration}
    record(request, who, "silence.create", f"silence {silence_id}", {**detail, "comment": body.comment})
    return {"id": silence_id, "starts_at": starts, "ends_at": starts + body.duration}


@router.delete("/silences/{silence_id}")
def expire_silence(silence_id: int, request: Request, who: Admin) -> dict[str, Any]:
    """End a silence now."""
    if not request.app.state.store.silences.expire(silence_id, request.app.state.clock()):
        raise HTTPException(404, "no such silence, or it is over already")
    record(request, who, "silence.end", f"silence {silence_id}")
    return {"expired": silence_id}
