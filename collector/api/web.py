"""The dashboard's static files and the security headers every response carries.

The dashboard is plain HTML/JS/CSS in ``collector/web`` (uPlot vendored, no build step).
Its pages are hash routes (``/#/run/<id>``); the real paths it also answers are those
links from outside point to: ``/runs/<url-quoted run id>`` (the link in every alert a
notifier delivers) and ``/runs``. They serve the same page, whose router turns the path
into the hash route (``js/router.js``), so old ``#/run/...`` links keep working too.
Its Content-Security-Policy allows scripts and styles from this origin only (no inline
script), forbids framing, and every response is ``nosniff``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEB = Path(__file__).resolve().parent.parent / "web"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self';"
    " connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI at /docs loads its bundle from a CDN and starts with an inline script.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net;"
    " style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com;"
    " connect-src 'self'; frame-ancestors 'none'"
)
_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """ASGI middleware adding CSP, nosniff and anti-framing headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = (DOCS_CSP if scope.get("path", "").startswith("/docs") else CSP).encode()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _NAMES]
                headers += [(b"content-security-policy", csp), *_COMMON]
                if scope.get("path", "").startswith("/api/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


_NAMES = {b"content-security-policy", *(name for name, _ in _COMMON)}


# Real paths that open a dashboard page (links from alerts, bookmarks); the router maps each to its hash route.
DASHBOARD_PATHS = ("/", "/runs", "/runs/{ref:path}")


def mount_dashboard(app: Any) -> None:
    """Serve the single-page dashboard at ``/`` and its real paths, and its assets under ``/static``."""

    async def index(request: Any) -> Response:
        return FileResponse(WEB / "index.html", media_type="text/html; charset=utf-8")

    for path in DASHBOARD_PATHS:
        app.add_route(path, index, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=WEB), name="static")
