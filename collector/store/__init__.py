"""Persistence: the backend-neutral interface (``base``) and its backends (``sqlite``).

>>> store = open_store(settings)            # the backend ``settings.database_url`` names
>>> store.runs.get("resnet-1").status
'running'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Store

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["Store", "open_store"]


def open_store(settings: Settings, *, for_collector: bool = False) -> Store:
    """The store named by the settings (SQLite under ``$RUNWATCH_HOME`` by default).

    ``for_collector``: this process writes continuously, so the store may do its
    housekeeping between commits (SQLite: WAL checkpoints in ``idle()``).
    """
    from .sqlite import SQLiteStore

    url = settings.database_url
    if url and not url.startswith("sqlite:///"):
        raise ValueError(f"unsupported database_url {url.split('://')[0]}://...: only sqlite:/// is available yet")
    store = SQLiteStore(settings.sqlite_path)
    if for_collector:
        store.checkpoint_when_idle()
    return store
