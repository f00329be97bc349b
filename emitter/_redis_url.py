"""Which Redis a process talks to when nobody said: the one ``runwatch serve`` started for this home.

``runwatch serve`` without ``RUNWATCH_REDIS_URL`` runs an embedded Redis on a port of its own
with a generated password, and writes its URL to ``$RUNWATCH_HOME/redis.url`` (mode 0600).
A training job, ``runwatch sync`` or the CLI on the same machine with the same home reads it,
so nothing but the home has to be shared; an explicit URL always wins.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
EMBEDDED_URL_FILE = "redis.url"  # under $RUNWATCH_HOME, written by the service for its embedded Redis


def resolve_redis_url(explicit: str | None = None, home: str | os.PathLike[str] | None = None) -> str:
    """``explicit``, else ``RUNWATCH_REDIS_URL``, else the embedded Redis of ``home``, else the default."""
    if explicit:
        return explicit
    configured = os.environ.get("RUNWATCH_REDIS_URL")
    if configured:
        return configured
    base = Path(home or os.environ.get("RUNWATCH_HOME") or ".runwatch")
    try:
        written = (base / EMBEDDED_URL_FILE).read_text().strip()
    except OSError:
        return DEFAULT_REDIS_URL
    return written or DEFAULT_REDIS_URL
