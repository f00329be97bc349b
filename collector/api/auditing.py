"""``record``: what every changing route calls once its change is made, to append it to the audit trail.

Who is the token's name (``token N`` for a token without one; ``open`` when auth is off, so
anyone on the loopback), from where is the client address the server saw (the proxy's,
behind one). See ``collector/audit.py`` for the actions; ``audit.py`` serves the log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from ..store.base import AuditEntry, Store

if TYPE_CHECKING:  # auth.py records its token changes here: no import back at run time
    from .auth import Principal


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
