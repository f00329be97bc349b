"""How a process reaches a team's Redis: TLS (``rediss://``), AUTH/ACL users and Redis Cluster.

One place builds the client, for the emitter and (through ``collector/redis_connect.py``) the
collector, so both understand the same URLs and the same ``RUNWATCH_REDIS_*`` variables:

- ``redis://[user:password@]host:port/0``: one server; ``rediss://``: the same over TLS;
- ``redis+cluster://host:port`` / ``rediss+cluster://host:port`` (or ``RUNWATCH_REDIS_CLUSTER=true``
  with a plain URL): a Redis Cluster, reached through any of its nodes;
- ``RUNWATCH_REDIS_TLS_CA`` / ``_TLS_CERT`` / ``_TLS_KEY``: the CA that signed the server's
  certificate, and a client certificate and key when the server asks for one;
- ``RUNWATCH_REDIS_USERNAME`` / ``_PASSWORD``: an ACL user (or the ``default`` user's password)
  when the URL carries none (the URL wins), so the password need not sit in a URL.

A cluster client has the same command API as a single-server one; it is returned as
``redis.Redis`` for the callers' types. The few places where a cluster differs (a multi-key
read over several shards' keys) ask ``is_cluster``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.cluster import RedisCluster

#: The environment variables an emitter reads to reach Redis (the collector's ``Settings`` has the same names).
EMITTER_REDIS_ENV = (
    "RUNWATCH_REDIS_URL",
    "RUNWATCH_REDIS_CLUSTER",
    "RUNWATCH_REDIS_TLS_CA",
    "RUNWATCH_REDIS_TLS_CERT",
    "RUNWATCH_REDIS_TLS_KEY",
    "RUNWATCH_REDIS_USERNAME",
    "RUNWATCH_REDIS_PASSWORD",
)

_CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
_SCHEMES = {"redis", "rediss", "unix", *_CLUSTER_SCHEMES}
_TRUE = ("1", "true", "yes", "on")

# No CLIENT SETINFO at connect (redis-py >= 5 sends it and ignores a refusal): a command fewer for a
# least-privilege ACL user, and none that Redis 7.0 lacks (an ACL naming client|setinfo fails to load there).
try:
    from redis.driver_info import DriverInfo

    _NO_SETINFO: dict[str, Any] = {"driver_info": DriverInfo(name=None, lib_version=None)}
except ImportError:  # redis-py before 7.1
    _NO_SETINFO = {"lib_name": None, "lib_version": None}


@dataclass(frozen=True, slots=True)
class RedisOptions:
    """What a URL alone cannot say: cluster mode, TLS files, ACL credentials."""

    cluster: bool = False
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RedisOptions:
        """The ``RUNWATCH_REDIS_*`` variables (see the module docstring)."""
        env = os.environ if environ is None else environ

        def text(name: str) -> str | None:
            return env.get(name) or None

        return cls(
            cluster=env.get("RUNWATCH_REDIS_CLUSTER", "").strip().lower() in _TRUE,
            tls_ca=text("RUNWATCH_REDIS_TLS_CA"),
            tls_cert=text("RUNWATCH_REDIS_TLS_CERT"),
            tls_key=text("RUNWATCH_REDIS_TLS_KEY"),
            username=text("RUNWATCH_REDIS_USERNAME"),
            password=text("RUNWATCH_REDIS_PASSWORD"),
        )


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """A URL taken apart: the URL redis-py understands, whether it is a cluster, the seed host."""

    url: str
    cluster: bool
    tls: bool
    host: str | None
    port: int | None
    has_password: bool


def parse_redis_url(url: str, options: RedisOptions | None = None) -> RedisTarget:
    """Split a runwatch Redis URL; a scheme nobody speaks is a clear ``ValueError`` (not a traceback later)."""
    opts = options or RedisOptions()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(
            f"unsupported Redis URL scheme {parts.scheme!r}: use redis://, rediss:// (TLS), "
            "redis+cluster://, rediss+cluster:// or unix://"
        )
    cluster = scheme in _CLUSTER_SCHEMES or (opts.cluster and scheme != "unix")
    plain = _CLUSTER_SCHEMES.get(scheme, scheme)
    if cluster and not parts.hostname:
        raise ValueError("a Redis Cluster URL names a node: redis+cluster://host:port")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid port in Redis URL: {exc}") from exc
    return RedisTarget(
        url=urlunsplit((plain, parts.netloc, parts.path, parts.query, parts.fragment)),
        cluster=cluster,
        tls=plain == "rediss",
        host=parts.hostname,
        port=port,
        has_password=bool(parts.password) or "password=" in parts.query or bool(opts.password),
    )


def client_kwargs(target: RedisTarget, options: RedisOptions | None = None) -> dict[str, Any]:
    """TLS files and credentials as redis-py keyword arguments (a URL's own credentials win)."""
    opts = options or RedisOptions()
    kwargs: dict[str, Any] = dict(_NO_SETINFO)
    if target.tls:
        kwargs["ssl_cert_reqs"] = "required"
        if opts.tls_ca:
            kwargs["ssl_ca_certs"] = opts.tls_ca
        if opts.tls_cert:
            kwargs["ssl_certfile"] = opts.tls_cert
        if opts.tls_key:
            kwargs["ssl_keyfile"] = opts.tls_key
    if opts.username:
        kwargs["username"] = opts.username
    if opts.password:
        kwargs["password"] = opts.password
    return kwargs


def connect(url: str, options: RedisOptions | None = None, **settings: Any) -> redis.Redis:
    """A synchronous client for ``url`` (a ``RedisCluster`` for a cluster URL), with ``settings`` passed on."""
    opts = RedisOptions.from_env() if options is None else options
    target = parse_redis_url(url, opts)
    kwargs = {**client_kwargs(target, opts), **settings}
    if target.cluster:
        kwargs.pop("health_check_interval", None)
        return cast(redis.Redis, RedisCluster.from_url(target.url, **kwargs))
    return redis.Redis.from_url(target.url, **kwargs)


def is_cluster(client: object) -> bool:
    """Whether ``client`` talks to a Redis Cluster (sync or asyncio client)."""
    from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

    return isinstance(client, RedisCluster | AsyncRedisCluster)


def mget(client: redis.Redis, keys: Sequence[str]) -> list[Any]:
    """MGET of keys that may live in different slots: split per slot on a cluster (never CROSSSLOT)."""
    if is_cluster(client):
        return list(cast(RedisCluster, client).mget_nonatomic(list(keys)))
    return list(client.mget(list(keys)))
