"""``GET /api/v1/audit`` (admin): the audit trail, newest first. What writes it is ``auditing.py``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from ..store.base import AuditEntry, Store
from .auth import require

router = APIRouter(tags=["audit"])
MAX_LIMIT = 1000


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
