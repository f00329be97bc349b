"""``GET /api/v1/audit`` (admin): the audit trail; and ``record``, which every changing route calls.

Who is the token's name (``token N`` for a token without one; ``open`` when auth is off, so
anyone on the loopback), from where is the client address the server saw (the proxy's,
behind one). See ``collector/audit.py`` for the actions.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from ..store.base import AuditEntry, Store
from .auth import Principal, require

router = APIRouter(tags=["audit"])
MAX_LIMIT = 1000


def actor(who: Principal) -> str:
    """How the audit log names a caller."""
    if who.name:
        return who.name
    return f"token {who.token_id}" if who.token_id is not None else who.via


def source(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def record(request: Request, who: Principal, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
    """Append the change this request made (call it once the change is made; from a worker thread)."""
    store: Store = request.app.state.store
    entry = AuditEntry(request.app.state.clock(), actor(who), source(request), action, target, detail or {})
    store.audit.append(entry)


async def record_async(
    request: Request, who: Principal, action: str, target: str, detail: dict[str, Any] | None = None
) -> None:
    """``record`` from an async route: the store is called on a worker thread."""
    await run_in_threadpool(record, request, who, action, target, detail)


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at,
        "who": entry.who,
        "source": entry.source,
        "action": entry.action,
        "target": entry.target,
        "detail": entry.detail,
    }


@router.get("/audit", dependencies=[Depends(require("admin"))])
def audit(
    request: Request,
    since: Annotated[float | None, Query(description="Unix time: entries at or after it.")] = None,
    who: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100, description="token.create, or a family: token")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> dict[str, Any]:
    """The audit trail, newest first."""
    store: Store = request.app.state.store
    return {"entries": [entry_json(e) for e in store.audit.list(since=since, who=who, action=action, limit=limit)]}
