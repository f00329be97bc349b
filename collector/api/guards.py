"""``HostGuard``: which ``Host`` names the server answers, and which web origins may open its websocket.

Two ways a web page in the user's browser reads a local runwatch:

- **DNS rebinding.** A page on ``attacker.example`` re-resolves its own name to 127.0.0.1; its
  same-origin requests then reach runwatch with ``Host: attacker.example``. An auth-off server
  answers only host names it knows (``localhost``, the bind address, ``public_url``'s host,
  ``allowed_hosts``) and IP addresses (127.0.0.1, ::1, a LAN address: rebinding needs a name the
  attacker controls, and a page whose URL is an address of this server *is* this server);
  anything else is a 400. With auth on, the rebinding page has no cookie and no token, so the
  names are checked only when ``allowed_hosts`` is set.
- **Cross-site websockets.** Browsers apply no CORS to websockets, and a page on another port
  of the same host (Grafana, Jupyter) even carries the ``SameSite=Strict`` cookie, since a site
  is not an origin. The websocket is accepted only from the served origin (scheme, host and
  port of the request), ``public_url``'s origin or ``allowed_origins``; anything else is a 403.
  A handshake without ``Origin`` comes from no web page (a script, curl) and is accepted.

>>> app.add_middleware(HostGuard, policy=HostPolicy.from_settings(settings))
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import ConfigError
from ..settings import Settings

logger = logging.getLogger(__name__)

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_ANY_ADDRESS = frozenset({"", "0.0.0.0", "::"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_WEB_SCHEME = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


def split_host(authority: str) -> tuple[str, int | None]:
    """``"Example.COM.:8765"`` → ``("example.com", 8765)``, ``"[::1]"`` → ``("::1", None)``; ``ValueError`` if malformed."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        name, bracket, rest = authority[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(authority)
        port_text = rest[1:]
    else:
        name, colon, port_text = authority.rpartition(":")
        if not colon:
            name, port_text = authority, ""
    if port_text and not port_text.isdigit():
        raise ValueError(authority)
    name = name.rstrip(".")
    if not name or any(c in name for c in "/@?#\\ "):
        raise ValueError(authority)
    return name, int(port_text) if port_text else None


def normalize_origin(origin: str) -> str | None:
    """``"HTTP://Host:80"`` → ``"http://host"``: scheme, host and a non-default port; None if not a web origin."""
    try:
        parts = urlsplit(origin.strip())
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or parts.path not in ("", "/") or parts.query or parts.username:
            return None
        name, port = split_host(parts.netloc)
    except ValueError:
        return None
    return _origin(scheme, name, port)


def _is_address(name: str) -> bool:
    """An IP address literal (never a DNS name an attacker could rebind)."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _origin(scheme: str, name: str, port: int | None) -> str:
    host = f"[{name}]" if ":" in name else name
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """The host names and web origins one server accepts (see the module docstring).

    ``from_settings`` raises ``ConfigError`` for an entry that is not a host name or an origin.
    """

    check_hosts: bool
    hosts: frozenset[str]
    origins: frozenset[str]
    any_host: bool = False
    any_origin: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> HostPolicy:
        hosts = set(LOOPBACK_NAMES)
        origins: set[str] = set()
        if settings.host.strip("[]") not in _ANY_ADDRESS:
            hosts.add(settings.host.strip("[]").lower())
        if settings.public_url:
            public = urlsplit(settings.public_url)
            if public.hostname:
                hosts.add(public.hostname.lower().rstrip("."))
            origin = normalize_origin(f"{public.scheme}://{public.netloc}")
            if origin:
                origins.add(origin)
        for name in settings.allowed_hosts:
            try:
                hosts.add(split_host(name)[0] if name != "*" else name)
            except ValueError:
                raise ConfigError(f"allowed_hosts: {name!r} is not a host name") from None
        for given in settings.allowed_origins:
            origin = normalize_origin(given)
            if given != "*" and origin is None:
                raise ConfigError(f"allowed_origins: {given!r} is not an origin like https://host:port")
            if origin:
                origins.add(origin)
        return cls(
            check_hosts=not settings.auth or bool(settings.allowed_hosts),
            hosts=frozenset(hosts),
            origins=frozenset(origins),
            any_host="*" in settings.allowed_hosts,
            any_origin="*" in settings.allowed_origins,
        )

    def host_problem(self, host: str | None) -> str | None:
        """Why a request with this ``Host`` header is refused (None: it is served)."""
        if not self.check_hosts or self.any_host or host is None:  # no Host at all: no browser sent it
            return None
        try:
            name, _ = split_host(host)
        except ValueError:
            name = ""
        if name in self.hosts or _is_address(name):
            return None
        return (
            f"this server does not answer to the host name {host[:100]!r}: add it to RUNWATCH_ALLOWED_HOSTS"
            " (a JSON list) if it is yours (unknown names are refused to stop DNS rebinding)"
        )

    def origin_problem(self, origin: str | None, host: str | None, scheme: str) -> str | None:
        """Why a websocket opened by a page of ``origin`` is refused (None: it is accepted)."""
        if origin is None or self.any_origin:
            return None
        given = normalize_origin(origin)
        served = None
        if host is not None:
            try:
                served = _origin(_WEB_SCHEME.get(scheme, "http"), *split_host(host))
            except ValueError:
                served = None
        if given is not None and (given == served or given in self.origins):
            return None
        return (
            f"websockets from pages of the origin {origin[:100]!r} are refused (it is not {served or 'this server'}):"
            " add it to RUNWATCH_ALLOWED_ORIGINS (a JSON list) if that page may read live data"
        )


class HostGuard:
    """ASGI middleware refusing unknown ``Host`` names (400) and cross-origin websockets (403)."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        status, problem = 400, self.policy.host_problem(headers.get("host"))
        if problem is None and scope["type"] == "websocket":
            status, problem = (
                403,
                self.policy.origin_problem(headers.get("origin"), headers.get("host"), scope["scheme"]),
            )
        if problem is None:
            await self.app(scope, receive, send)
            return
        logger.warning("refused %s %s: %s", scope["type"], scope.get("path", ""), problem)
        if scope["type"] == "http":
            await JSONResponse({"detail": problem}, status)(scope, receive, send)
        else:
            await deny_websocket(scope, receive, send, status, problem)


async def deny_websocket(scope: Scope, receive: Receive, send: Send, status: int, reason: str) -> None:
    """Refuse a websocket handshake with an HTTP ``status`` and the reason as its body, where the server can."""
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": reason.encode()})
    else:  # the server answers 403 without a reason
        await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})
