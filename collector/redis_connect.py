"""The collector's Redis clients, built from ``Settings``: TLS, ACL users, Redis Cluster; and the
refusal to talk to an open Redis.

URLs and options mean what they mean for the emitter (``emitter/_redis_connect.py``); here they
come from ``Settings`` (``RUNWATCH_REDIS_CLUSTER``, ``RUNWATCH_REDIS_TLS_CA`` / ``_CERT`` / ``_KEY``,
``RUNWATCH_REDIS_USERNAME`` / ``_PASSWORD``) instead of the bare environment.

``refuse_insecure_redis`` runs before anything connects: a Redis off this machine without a
password lets anyone on the network read every run and write fake ones, and it is refused
unless ``--insecure`` says the network is trusted.
"""

from __future__ import annotations

import ipaddress
from typing import Any, cast

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

from emitter._redis_connect import RedisOptions, client_kwargs, is_cluster, parse_redis_url

from .errors import ConfigError
from .redact import redact_url
from .settings import Settings

__all__ = [
    "COLLECTOR_ACL_COMMANDS",
    "EMITTER_ACL_COMMANDS",
    "acl_rule",
    "async_client",
    "is_cluster",
    "redis_options",
    "refuse_insecure_redis",
    "sync_client",
]

#: What ``runwatch serve`` / ``collect`` / ``api`` send (docs/deploy.md; the ACL test allows exactly these).
COLLECTOR_ACL_COMMANDS = (
    "ping",
    "cluster|slots",
    "command",
    "get",
    "set",
    "xadd",
    "xreadgroup",
    "xread",
    "xack",
    "xgroup|create",
    "xautoclaim",
    "xinfo|groups",
    "xinfo|stream",
    "xpending",
    "xtrim",
    "xlen",
    "xrange",
    "xrevrange",
    "multi",
    "exec",
    # shard leases (collector/leases.py): one-key Lua scripts and the collectors' heartbeat set
    "evalsha",
    "script|load",
    "pexpire",
    "del",
    "zadd",
    "zremrangebyscore",
    "zrange",
    "zrem",
    # the commit report (collector/api/mlflow/commits.py): PUBLISH after each ack, SUBSCRIBE in the API
    "publish",
    "subscribe",
    "unsubscribe",
)
#: What a training job's emitter (and ``runwatch sync``) sends: it writes streams and reads watermarks.
EMITTER_ACL_COMMANDS = ("ping", "cluster|slots", "command", "get", "mget", "xadd")

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def acl_rule(prefix: str, commands: tuple[str, ...]) -> str:
    """The ACL SETUSER rules of a runwatch user: its prefix's keys (and channels, if it publishes), only ``commands``."""
    channels = f" &{prefix}:*" if "publish" in commands else ""
    return f"resetchannels{channels} resetkeys ~{prefix}:* -@all " + " ".join(f"+{command}" for command in commands)


def redis_options(settings: Settings) -> RedisOptions:
    """The settings' Redis options in the emitter's terms."""
    return RedisOptions(
        cluster=settings.redis_cluster,
        tls_ca=str(settings.redis_tls_ca) if settings.redis_tls_ca else None,
        tls_cert=str(settings.redis_tls_cert) if settings.redis_tls_cert else None,
        tls_key=str(settings.redis_tls_key) if settings.redis_tls_key else None,
        username=settings.redis_username,
        password=settings.redis_password.get_secret_value() if settings.redis_password else None,
    )


def async_client(url: str, settings: Settings, **extra: Any) -> aioredis.Redis:
    """The collector's and API's asyncio client (a cluster client for a cluster URL).

    A bad URL is a ``ConfigError`` that names the problem, never a traceback.
    """
    options = redis_options(settings)
    try:
        target = parse_redis_url(url, options)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    kwargs: dict[str, Any] = {"socket_connect_timeout": 2, "socket_timeout": 10, **client_kwargs(target, options)}
    kwargs.update(extra)
    if target.cluster:
        return cast(aioredis.Redis, AsyncRedisCluster.from_url(target.url, **kwargs))
    return aioredis.from_url(target.url, **kwargs)


def sync_client(url: str, settings: Settings, **extra: Any) -> redis.Redis:
    """A synchronous client for the CLI (``runwatch tail``, ``sync``), with the same options."""
    from emitter._redis_connect import connect

    try:
        return connect(url, redis_options(settings), **extra)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def is_loopback_host(host: str | None) -> bool:
    """127.0.0.0/8, ::1, a ``localhost`` name, or no host (a unix socket): this machine only.

    Any other name counts as remote: the check never resolves a name (it runs before connecting).
    """
    if not host:
        return True
    name = host.strip("[]").lower()
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def refuse_insecure_redis(url: str, insecure: bool, *, password: str | None = None) -> None:
    """Raise ``ConfigError`` for a non-loopback Redis without a password, unless ``insecure``.

    ``password`` is one given besides the URL (``RUNWATCH_REDIS_PASSWORD``). Nothing connects.
    """
    try:
        target = parse_redis_url(url, RedisOptions(password=password))
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if insecure or target.has_password or is_loopback_host(target.host):
        return
    raise ConfigError(
        f"refusing to use Redis at {redact_url(url)} without a password: it is not on this machine, and a Redis "
        "without AUTH lets anyone who can reach it read every run's events and write fake ones (or delete them). "
        "Give it a password or an ACL user (redis://USER:PASSWORD@host:6379/0, or RUNWATCH_REDIS_USERNAME / "
        "RUNWATCH_REDIS_PASSWORD; see docs/deploy.md for the ACL), or pass --insecure (RUNWATCH_INSECURE=1) "
        "if only trusted machines can reach it."
    )


def check_redis(settings: Settings) -> None:
    """``refuse_insecure_redis`` for the configured Redis (the embedded one is local and has a password)."""
    if settings.redis_url:
        password = settings.redis_password.get_secret_value() if settings.redis_password else None
        refuse_insecure_redis(settings.redis_url, settings.insecure, password=password)
