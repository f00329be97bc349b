"""The service's configuration: one pydantic-settings model, built at the entry point.

Sources, strongest first: keyword arguments (the CLI's flags), ``RUNWATCH_*`` environment
variables, then a TOML file named by ``RUNWATCH_CONFIG`` (same field names, no prefix).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from emitter.events import DEFAULT_PREFIX, DEFAULT_SHARDS, Keys


class Settings(BaseSettings):
    """Everything the collector, API and CLI can be told. See ``docs/architecture.md``."""

    model_config = SettingsConfigDict(env_prefix="RUNWATCH_", extra="ignore")

    home: Path = Field(Path(".runwatch"), description="Data directory: SQLite database, embedded Redis, spool.")
    redis_url: str | None = Field(None, description="Redis to use; unset: runwatch's own embedded one.")
    prefix: str = Field(DEFAULT_PREFIX, description="Prefix of every Redis key runwatch uses.")
    shards: int = Field(DEFAULT_SHARDS, ge=1, le=1024, description="Number of event streams.")
    embedded_redis_port: int = Field(
        6391, ge=0, le=65535, description="Port of the embedded Redis (runwatch's own; loopback, with a password)."
    )
    # Redis for a team (collector/redis_connect.py): TLS, ACL users, Cluster. The emitter reads the same
    # RUNWATCH_REDIS_* variables (emitter/_redis_connect.py).
    redis_cluster: bool = Field(
        False, description="The Redis URL names a node of a Redis Cluster (or use a redis+cluster:// URL)."
    )
    redis_tls_ca: Path | None = Field(None, description="rediss://: CA certificate that signed the server's.")
    redis_tls_cert: Path | None = Field(None, description="rediss://: client certificate, if the server asks for one.")
    redis_tls_key: Path | None = Field(None, description="rediss://: the client certificate's private key.")
    redis_username: str | None = Field(None, description="ACL user, when the URL names none.")
    redis_password: SecretStr | None = Field(None, description="Password (AUTH/ACL), when the URL carries none.")
    database_url: str | None = Field(
        None,
        description="sqlite:///path.db (default: $RUNWATCH_HOME/runwatch.db) or postgresql://user:password@host:5432/db.",
    )
    database_pool_size: int = Field(
        10, ge=1, le=1000, description="PostgreSQL: connections a process may open (the API's readers share them)."
    )

    consumer_name: str = Field(default_factory=lambda: f"collector-{socket.gethostname()}")
    read_count: int = Field(500, ge=1, description="Stream entries read per XREADGROUP.")
    max_commit_points: int = Field(
        5_000, ge=1, description="Points per transaction at most: bounds how long an alert waits behind a backlog."
    )
    block_ms: int = Field(500, ge=1, description="How long one read blocks waiting for new entries.")
    claim_idle_ms: int = Field(30_000, ge=1, description="Entries idle this long in a dead consumer are claimed.")
    claim_interval: float = Field(5.0, gt=0)
    max_deliveries: int = Field(3, ge=1, description="Failed attempts before an entry is dead-lettered.")
    trim_interval: float = Field(5.0, gt=0)
    stream_retention_seconds: float = Field(
        600.0, ge=0, description="Acknowledged entries kept this long for live readers catching up."
    )
    watermark_ttl_seconds: int = Field(7 * 24 * 3600, ge=60)

    # several collectors divide the shards by leases in Redis (collector/leases.py)
    lease_seconds: float = Field(
        10.0,
        ge=0.3,
        le=600,
        description="A shard's lease (and the stall detector's) lasts this long, renewed every third of it:"
        " a dead collector's shards move to the others after at most this.",
    )

    host: str = Field("127.0.0.1", description="Address the API binds to.")
    port: int = Field(8765, ge=0, le=65535)
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="`runwatch collect` serves /metrics, /healthz, /readyz on host:this port."
    )
    public_url: str | None = Field(None, description="Dashboard URL used in alert links.")
    auth: bool = Field(False, description="Require API tokens on every route and the websocket.")
    insecure: bool = Field(
        False, description="Allow a non-loopback bind without auth, and a non-loopback Redis without a password."
    )
    metrics_public: bool = Field(False, description="Serve /metrics without a token when auth is on.")
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names served besides localhost, IP addresses, the bind name and public_url's host"
        " ('*': any). Auth off: any other Host header is refused (DNS rebinding); auth on: checked only when set.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Web origins (scheme://host:port) whose pages may open the live websocket, besides the"
        " served origin and public_url's ('*': any).",
    )
    max_body_bytes: int = Field(
        1 << 20, ge=1, description="Largest request body of a JSON route; a larger one is answered 413 unread."
    )
    max_ws_message_bytes: int = Field(
        1 << 20, ge=1024, description="Largest live websocket message a client may send (closed with 1009 past it)."
    )
    token_recheck_seconds: float = Field(
        0.5, gt=0, description="How often open websockets' tokens are verified again (revocation closes them)."
    )
    exporter_grace_seconds: float = Field(300.0, ge=0, description="An ended run's series vanish after this.")
    exporter_idle_seconds: float = Field(3600.0, ge=0, description="A silent run's series vanish after this.")
    exporter_max_series_per_run: int = Field(500, ge=1)
    exporter_max_series: int = Field(50_000, ge=1)
    exporter_keys_allow: list[str] = Field(default_factory=list, description="Metric key globs to export.")
    exporter_keys_deny: list[str] = Field(default_factory=list, description="Metric key globs never exported.")
    exporter_refresh_seconds: float = Field(1.0, gt=0, description="How often lag/pending are read from Redis.")
    alerts: Path | None = Field(None, description="Alert rules file (default: $RUNWATCH_HOME/alerts.yaml).")
    lost_after: float = Field(60.0, gt=0, description="A running run silent this long is marked lost.")
    delivery_lease: float = Field(
        120.0, gt=0, description="A delivery claimed by a worker that died is retried after this long."
    )
    stall_interval: float = Field(1.0, gt=0, description="How often the stall detector checks (seconds).")
    artifacts_url: str | None = Field(
        None, description="Artifact bytes: file:///path or s3://bucket/prefix (default: $RUNWATCH_HOME/artifacts)."
    )
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint (MinIO, Ceph, R2) for s3:// URLs.")
    artifact_max_bytes: int = Field(5 << 30, ge=1, description="Largest artifact file the API accepts (bytes).")
    mlflow_commit_wait: float = Field(
        5.0, ge=0, description="How long an MLflow API write waits for its commit before answering (read-your-writes)."
    )
    mlflow_retry_window: int = Field(
        3600, ge=60, description="How long an MLflow API write is remembered, so a retried request is stored once."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("RUNWATCH_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @property
    def keys(self) -> Keys:
        return Keys(self.prefix)

    @property
    def sqlite_path(self) -> Path:
        if self.database_url and self.database_url.startswith("sqlite:///"):
            return Path(self.database_url.removeprefix("sqlite:///"))
        return self.home / "runwatch.db"

    @property
    def alerts_path(self) -> Path:
        return self.alerts or self.home / "alerts.yaml"

    @property
    def dashboard_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once at an entry point; flags left as None fall through."""
    return Settings(**{key: value for key, value in overrides.items() if value is not None})
