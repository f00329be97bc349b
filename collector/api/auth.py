"""Access control: bearer tokens (or the dashboard's cookie) with roles viewer < writer < admin.

Auth is off by default, which is allowed only on a loopback bind: ``check_bind`` refuses
any other address unless auth is on or the operator said ``insecure``. Tokens are random
(``rw_`` + 43 URL-safe characters); the store keeps only their SHA-256.

>>> role = require("viewer")           # a FastAPI dependency
>>> @router.get("/runs", dependencies=[Depends(role)])
... def runs(): ...
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket

from ..errors import ConfigError
from ..settings import Settings
from ..store.base import ROLES, Store
from .auditing import record

COOKIE = "runwatch_token"
CSRF_HEADER = "x-requested-with"
CALLER_SCOPE_KEY = "runwatch.caller"  # set by limits.BodyGuard, which authenticates before a body is read
RANKS = {role: rank for rank, role in enumerate(ROLES, start=1)}


def auth_enabled(settings: Settings) -> bool:
    return settings.auth


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings) -> None:
    """Refuse to serve on a non-loopback address without auth, unless ``insecure`` is set."""
    host = settings.host
    if is_loopback(host) or auth_enabled(settings) or settings.insecure:
        return
    raise ConfigError(
        f"refusing to serve on {host} without authentication: set RUNWATCH_AUTH=1 and create tokens with"
        " `runwatch token create --role viewer`, bind to 127.0.0.1, or pass --insecure"
    )


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's role, or ``admin`` with ``via="open"`` when auth is off."""

    role: str
    via: str  # open | bearer | cookie
    token_id: int | None = None
    name: str = ""

    def can(self, role: str) -> bool:
        return RANKS[self.role] >= RANKS[role]


def bearer(headers: Any) -> str | None:
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _verify(app: Any, token: str) -> Principal | None:
    store: Store = app.state.store
    found = store.tokens.verify(token, app.state.clock())
    if found is None:
        return None
    return Principal(found.role, "bearer", found.id, found.name)


async def identify(request: Request) -> Principal | None:
    """The caller of an HTTP request, or None when auth is on and no valid token came."""
    app = request.app
    if not auth_enabled(app.state.settings):
        return Principal("admin", "open")
    known = request.scope.get(CALLER_SCOPE_KEY)
    if isinstance(known, Principal):
        return known
    token = bearer(request.headers)
    via = "bearer"
    if token is None:
        token, via = request.cookies.get(COOKIE), "cookie"
    if not token:
        return None
    found = await run_in_threadpool(_verify, app, token)
    if found is None:
        return None
    return Principal(found.role, via, found.token_id, found.name)


def require(role: str) -> Callable[..., Any]:
    """A dependency admitting callers with at least ``role`` (401 without a valid token, 403 below it)."""

    async def dependency(request: Request) -> Principal:
        who = await identify(request)
        if who is None:
            raise HTTPException(401, "a valid token is required", headers={"WWW-Authenticate": "Bearer"})
        if not who.can(role):
            raise HTTPException(403, f"this needs the {role} role; the token has {who.role}")
        unsafe = request.method not in ("GET", "HEAD", "OPTIONS")
        if who.via == "cookie" and unsafe and request.headers.get(CSRF_HEADER) != "runwatch":
            raise HTTPException(403, f"cookie-authenticated writes need the header {CSRF_HEADER}: runwatch")
        return who

    dependency.__name__ = f"require_{role}"
    return dependency


async def identify_websocket(
    websocket: WebSocket, first_message: dict[str, Any] | None
) -> tuple[Principal, str | None] | None:
    """The caller of a websocket and the token that proved it (None with auth off), or None without a valid one.

    The token comes as a bearer header or cookie at the handshake, or as ``token`` in the first
    message; the session keeps it to verify it again while the socket is open.
    """
    app = websocket.app
    if not auth_enabled(app.state.settings):
        return Principal("admin", "open"), None
    candidates = [bearer(websocket.headers), websocket.cookies.get(COOKIE)]
    if first_message and isinstance(first_message.get("token"), str):
        candidates.insert(0, first_message["token"])
    for token in candidates:
        if token:
            found = await run_in_threadpool(_verify, app, token)
            if found is not None:
                return found, token
    return None


def handshake_token(websocket: WebSocket) -> bool:
    """Whether the handshake itself carries a token (else the first message must)."""
    return bool(bearer(websocket.headers) or websocket.cookies.get(COOKIE))


# ------------------------------------------------------------------ routes: session and tokens

router = APIRouter(tags=["auth"])


class SessionIn(BaseModel):
    token: str = Field(..., min_length=1, max_length=200)


class TokenIn(BaseModel):
    role: str = Field("viewer", pattern="^(viewer|writer|admin)$")
    name: str = Field("", max_length=200)


@router.get("/session")
async def get_session(request: Request) -> dict[str, Any]:
    """Whether auth is on, and the caller's role (the dashboard asks this first)."""
    who = await identify(request)
    return {
        "auth": auth_enabled(request.app.state.settings),
        "authenticated": who is not None,
        "role": who.role if who else None,
    }


@router.post("/session")
async def login(body: SessionIn, request: Request, response: Response) -> dict[str, Any]:
    """Check a token and keep it in an HttpOnly, SameSite=Strict cookie for the dashboard."""
    found = await run_in_threadpool(_verify, request.app, body.token)
    if found is None:
        raise HTTPException(401, "unknown or revoked token")
    response.set_cookie(
        COOKIE,
        body.token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
        max_age=30 * 24 * 3600,
    )
    return {"authenticated": True, "role": found.role}


@router.delete("/session")
async def logout(response: Response) -> dict[str, Any]:
    response.delete_cookie(COOKIE, path="/")
    return {"authenticated": False}


@router.get("/tokens", dependencies=[Depends(require("admin"))])
def tokens(request: Request) -> dict[str, Any]:
    """Every token (never the token itself: only its first characters)."""
    return {"tokens": request.app.state.store.tokens.list()}


@router.post("/tokens", status_code=201)
def create_token(
    body: TokenIn, request: Request, who: Annotated[Principal, Depends(require("admin"))]
) -> dict[str, Any]:
    """A new token; the response is the only place it is ever shown."""
    token_id, token = request.app.state.store.tokens.create(body.role, body.name, request.app.state.clock())
    record(request, who, "token.create", f"token {token_id}", {"role": body.role, "name": body.name})
    return {"id": token_id, "role": body.role, "name": body.name, "token": token}


@router.delete("/tokens/{token_id}")
def revoke_token(
    token_id: int, request: Request, who: Annotated[Principal, Depends(require("admin"))]
) -> dict[str, Any]:
    """Revoke a token: its requests are refused from now on and its open websockets close with 4401."""
    if not request.app.state.store.tokens.revoke(token_id, request.app.state.clock()):
        raise HTTPException(404, "no such active token")
    record(request, who, "token.revoke", f"token {token_id}")
    request.app.state.live.tokens_changed()  # this process's sockets at once; other replicas within a check
    return {"revoked": token_id}
