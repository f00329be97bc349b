"""Persistence: the backend-neutral interface (``base``) and its backends (``sqlite``, ``postgres``).

>>> store = open_store(settings)            # the backend ``settings.database_url`` names
>>> store.runs.get("resnet-1").status
'running'

``RUNWATCH_DATABASE_URL`` picks the backend: unset or ``sqlite:///PATH`` is SQLite (under
``$RUNWATCH_HOME`` by default), ``postgresql://…`` or ``postgres://…`` is PostgreSQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigError
from .base import SchemaPolicy, Store

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["SchemaPolicy", "Store", "backend_of", "open_store"]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def backend_of(url: str | None) -> str:
    """``"sqlite"`` or ``"postgres"``: the backend a database URL names. Raises ``ConfigError`` for any other."""
    if not url or url.startswith("sqlite:///"):
        return "sqlite"
    if url.startswith(POSTGRES_SCHEMES):
        return "postgres"
    scheme = url.split("://", 1)[0] if "://" in url else url[:20]
    raise ConfigError(
        f"unsupported database_url {scheme}://...: use sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE"
    )


def open_store(settings: Settings, *, for_collector: bool = False, schema: SchemaPolicy = "migrate") -> Store:
    """The store named by the settings (SQLite under ``$RUNWATCH_HOME`` by default).

    ``for_collector``: this process writes continuously, so the store may do its
    housekeeping between commits (SQLite: WAL checkpoints in ``idle()``).
    ``schema``: apply pending migrations (the default), refuse a database that needs some
    (``"require"``: ``SchemaBehind``), or open it as it is (``"as-is"``). A malformed URL
    raises ``ConfigError``, an unreachable server ``StoreUnavailable``: both with a
    message for people.
    """
    if backend_of(settings.database_url) == "postgres":
        from .postgres import PostgresStore

        assert settings.database_url is not None
        return PostgresStore(settings.database_url, schema=schema, pool_size=settings.database_pool_size)
    from .sqlite import SQLiteStore

    store = SQLiteStore(settings.sqlite_path, schema=schema)
    if for_collector:
        store.checkpoint_when_idle()
    return store
