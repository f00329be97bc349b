"""runwatch's client library: stream run metadata, params and metrics from training code.

>>> import emitter
>>> run = emitter.init(project="resnet", config={"lr": 3e-4})
>>> run.log({"loss": 0.31, "acc": 0.88}, step=120)
>>> run.finish()

It depends on ``redis`` and ``msgpack`` only, so it installs into any training
environment. ``log()`` never blocks on the network and never raises for a transport
failure: when Redis is unreachable, events go to a disk spool and are replayed later.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from . import _hooks
from ._artifacts import ArtifactHandle
from ._names import generate_name, new_run_id
from ._sync import SyncReport, sync_artifacts, sync_spool
from .events import CONTRACT_VERSION, ContractError, Kind, RunStatus
from .run import Run

__all__ = [
    "CONTRACT_VERSION",
    "ArtifactHandle",
    "ContractError",
    "Kind",
    "Run",
    "RunStatus",
    "SyncReport",
    "alert",
    "current_run",
    "finish",
    "flush",
    "generate_name",
    "init",
    "log",
    "log_artifact",
    "log_image",
    "log_params",
    "new_run_id",
    "note",
    "set_tags",
    "sync_artifacts",
    "sync_spool",
    "use_artifact",
]


def init(
    project: str,
    name: str | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    tags: Iterable[str] | None = None,
    notes: str | None = None,
    group: str | None = None,
    run_id: str | None = None,
    redis_url: str | None = None,
    **options: Any,
) -> Run:
    """Start (or, given the ``run_id`` of an existing run, resume) a run and make it current."""
    run = Run(
        project,
        name,
        config=config,
        tags=tags,
        notes=notes,
        group=group,
        run_id=run_id,
        redis_url=redis_url,
        **options,
    )
    _hooks.set_current(run)
    return run


def current_run() -> Run | None:
    """The run started by the last ``init()`` in this process, if it has not finished."""
    return _hooks.current()


def _require() -> Run:
    run = _hooks.current()
    if run is None:
        raise RuntimeError("no active run: call emitter.init(project=...) first")
    return run


def log(values: Mapping[str, float], step: int | None = None) -> None:
    """``log()`` on the current run."""
    _require().log(values, step)


def log_params(params: Mapping[str, Any]) -> None:
    """``log_params()`` on the current run."""
    _require().log_params(params)


def set_tags(*tags: str) -> None:
    """``set_tags()`` on the current run."""
    _require().set_tags(*tags)


def note(text: str) -> None:
    """``note()`` on the current run."""
    _require().note(text)


def alert(title: str, text: str = "", level: str = "warn") -> None:
    """``alert()`` on the current run."""
    _require().alert(title, text, level)


def log_artifact(
    path: str | os.PathLike[str],
    name: str | None = None,
    *,
    type: str = "file",
    aliases: Iterable[str] = (),
    metadata: Mapping[str, Any] | None = None,
) -> ArtifactHandle:
    """``log_artifact()`` on the current run."""
    return _require().log_artifact(path, name, type=type, aliases=aliases, metadata=metadata)


def log_image(key: str, image: Any, step: int | None = None) -> ArtifactHandle:
    """``log_image()`` on the current run."""
    return _require().log_image(key, image, step)


def use_artifact(name: str, version: int | str = "latest", *, project: str | None = None) -> Path:
    """``use_artifact()`` on the current run."""
    return _require().use_artifact(name, version, project=project)


def flush(timeout: float | None = None) -> bool:
    """``flush()`` on the current run (True when there is none)."""
    run = _hooks.current()
    return True if run is None else run.flush(timeout)


def finish(status: str = "finished") -> None:
    """``finish()`` on the current run."""
    _require().finish(status)
