"""``BodyGuard``: no request body is read before its caller is authenticated, nor past its route's cap.

FastAPI reads and parses a body before it runs the route's dependencies (where auth is
checked), so an anonymous client could make the server buffer a 300 MB body only to be told
401. This middleware runs first. With auth on, a request carrying a body must present a valid
token before a byte of it is read (401 otherwise; the route's own check reuses the caller),
except on routes open to anonymous callers (``POST /api/v1/session``, with a tiny cap). And
every body is capped per route: a ``Content-Length`` past the cap is a 413 at once, a chunked
body is cut off with a 413 as it crosses it. The default cap (``max_body_bytes``, 1 MiB) fits
the JSON routes; an upload route adds its own ``BodyRule`` with a larger one.

>>> app.add_middleware(BodyGuard, settings=settings, limits=BodyLimits.from_settings(settings))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from re import Pattern

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..settings import Settings
from . import auth
from .mlflow.errors import error_body, is_mlflow_path

SESSION_BODY_BYTES = 4096  # POST /api/v1/session: {"token": "rw_..."}


@dataclass(frozen=True, slots=True)
class BodyRule:
    """One route's body cap (``path`` as routes spell it: ``/api/v1/runs/{ref}/artifacts``).

    ``anonymous``: callers without a token may send it a body (the login route).
    """

    path: str
    max_bytes: int
    anonymous: bool = False
    setting: str = ""  # the setting that raises the cap, named in the 413
    pattern: Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", compile_path(self.path)[0])


class BodyLimits:
    """The cap and the anonymous rule of each route: its own ``BodyRule``, else the default."""

    def __init__(self, default_max_bytes: int, rules: Sequence[BodyRule] = ()) -> None:
        self.default = BodyRule("/{path:path}", default_max_bytes, setting="RUNWATCH_MAX_BODY_BYTES")
        self.rules = tuple(rules)

    @classmethod
    def from_settings(cls, settings: Settings) -> BodyLimits:
        return cls(
            settings.max_body_bytes,
            [
                BodyRule("/api/v1/session", SESSION_BODY_BYTES, anonymous=True),
                BodyRule(  # MLflow's artifact proxy streams to the blob store in the same way
                    "/api/2.0/mlflow-artifacts/artifacts/{path:path}",
                    settings.artifact_max_bytes,
                    setting="RUNWATCH_ARTIFACT_MAX_BYTES",
                ),
                BodyRule(  # artifact uploads stream to the blob store, which checks the same cap as it writes
                    "/api/v1/runs/{run_id}/artifacts/{path:path}",
                    settings.artifact_max_bytes,
                    setting="RUNWATCH_ARTIFACT_MAX_BYTES",
                ),
            ],
        )

    def rule_for(self, path: str) -> BodyRule:
        return next((rule for rule in self.rules if rule.pattern.match(path)), self.default)


class BodyTooLarge(HTTPException):
    """Raised from ``receive()`` when a chunked body crosses its cap (FastAPI answers it as a 413)."""

    def __init__(self, rule: BodyRule) -> None:
        raise_it = f" (raise it with {rule.setting})" if rule.setting else ""
        super().__init__(
            413, f"the request body is larger than this route's limit of {rule.max_bytes:,} bytes{raise_it}"
        )


class BodyGuard:
    """ASGI middleware: authenticate before reading a body (auth on), and cap every body (see the module)."""

    def __init__(self, app: ASGIApp, *, settings: Settings, limits: BodyLimits) -> None:
        self.app = app
        self.settings = settings
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = _content_length(headers)
        if length == 0 and "transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body: nothing to guard
            return
        rule = self.limits.rule_for(scope["path"])
        if length is not None and length > rule.max_bytes:
            await _answer(scope, receive, send, BodyTooLarge(rule))
            return
        if auth.auth_enabled(self.settings) and not rule.anonymous:
            caller = await auth.identify(Request(scope))
            if caller is None:
                error = HTTPException(401, "a valid token is required", headers={"WWW-Authenticate": "Bearer"})
                await _answer(scope, receive, send, error)
                return
            scope[auth.CALLER_SCOPE_KEY] = caller  # the route's dependency takes it from here
        await self._read_capped(scope, receive, send, rule)

    async def _read_capped(self, scope: Scope, receive: Receive, send: Send, rule: BodyRule) -> None:
        received = 0
        started = False

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > rule.max_bytes:
                    raise BodyTooLarge(rule)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, watched_send)
        except BodyTooLarge as error:  # read outside FastAPI's handlers (which answer it themselves)
            if started:
                raise
            await _answer(scope, receive, send, error)


def _content_length(headers: Headers) -> int | None:
    """The declared body length; None when the body is chunked or the header is not a number."""
    value = headers.get("content-length")
    if value is None:
        return None if "transfer-encoding" in headers else 0
    try:
        return int(value)
    except ValueError:
        return None


async def _answer(scope: Scope, receive: Receive, send: Send, error: HTTPException) -> None:
    body: dict[str, object] = {"detail": error.detail}
    if is_mlflow_path(scope["path"]):  # the MLflow client reads its own error shape
        body = error_body("UNAUTHENTICATED" if error.status_code == 401 else "INVALID_PARAMETER_VALUE", error.detail)
    response = JSONResponse(body, error.status_code, headers=error.headers)
    await response(scope, receive, send)
