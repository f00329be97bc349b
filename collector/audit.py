"""The audit trail's vocabulary: which changes are recorded, and who the CLI says made them.

Every change made through the API or the CLI is appended to ``store.audit`` once it is
made: who (a token's name; the local OS user for the CLI), when, what (``action`` and
``target``, with a JSON ``detail``), from where (the client address, or ``cli``). Read it
with ``GET /api/v1/audit`` (admin) or ``runwatch audit``. An alias move and its entry commit in
one transaction (``ArtifactStore.move_alias(source=...)``); the other changes append their
entry right after they commit, so a process killed between the two loses that entry, never
the change.
"""

from __future__ import annotations

import getpass
import os
import time
from typing import Any

from .store.base import AuditEntry, Store

__all__ = ["ACTIONS", "CLI", "cli_user", "record_cli"]

#: Every action recorded, by family (``runwatch audit --action token`` matches ``token.*``).
ACTIONS = (
    "token.create",
    "token.revoke",
    "silence.create",
    "silence.end",
    "alias.move",  # runwatch model promote, POST /api/v1/artifacts/{name}/aliases
    "run.note",
    "run.tags",
    "run.delete",  # MLflow's runs/delete: the run is kept, marked deleted
    "run.restore",  # MLflow's runs/restore
    "rules.reload",  # reserved: rules are read at start; a reload records itself here
)
CLI = "cli"  # the source of every entry the command line appends


def cli_user() -> str:
    """The local OS user running the command (its uid when the system has no name for it)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid), no LOGNAME
        return f"uid {os.getuid()}"


def record_cli(store: Store, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
    """Append what a CLI command just changed."""
    store.audit.append(AuditEntry(time.time(), cli_user(), CLI, action, target, detail or {}))
