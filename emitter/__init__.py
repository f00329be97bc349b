"""runwatch's client library: stream run metadata, params and metrics from training code.

>>> import emitter
>>> run = emitter.init(project="resnet", config={"lr": 3e-4})
>>> run.log({"loss": 0.31, "acc": 0.88}, step=120)
>>> run.finish()

It depends on ``redis`` and ``msgpack`` only, so it installs into any training
environment. ``log()`` never blocks on the network and never raises for a transport
failure: when Redis is unreachable, events go to a disk spool and are replayed later.

It is also W&B-shaped (``_wandb.py``): ``import emitter as wandb`` runs the common W&B script.
As in W&B, the module-level functions act on the *current run* — the one the last ``init()``
started, until it finishes — and ``emitter.run``, ``emitter.config`` and ``emitter.summary`` are
that run, its config and its summary, read at each access (``_hooks.current()`` is the one place
that holds it; ``run`` is None between runs). Read them as attributes of the module:
``from emitter import config`` would keep whatever was current at import.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _hooks
from ._artifacts import ArtifactHandle
from ._names import generate_name, new_run_id
from ._sync import SyncReport, sync_artifacts, sync_spool
from ._wandb import (
    UNSET,
    WANDB_UNSUPPORTED,
    AlertLevel,
    Artifact,
    DefinedMetric,
    Image,
    Unsupported,
    WandbRun,
    config_of,
    init_options,
    say_once,
)
from ._wandb_config import Config, Summary, UnsupportedWarning
from .events import CONTRACT_VERSION, ContractError, Kind, RunStatus
from .run import Run

__all__ = [
    "CONTRACT_VERSION",
    "AlertLevel",
    "Artifact",
    "ArtifactHandle",
    "Config",
    "ContractError",
    "DefinedMetric",
    "Image",
    "Kind",
    "Run",
    "RunStatus",
    "Summary",
    "SyncReport",
    "UnsupportedWarning",
    "WandbRun",
    "alert",
    "current_run",
    "define_metric",
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
    "save",
    "set_tags",
    "sync_artifacts",
    "sync_spool",
    "use_artifact",
]


def init(
    project: str | None = None,
    name: str | None = None,
    *,
    config: Any = None,
    tags: Iterable[str] | None = None,
    notes: str | None = None,
    group: str | None = None,
    run_id: str | None = None,
    redis_url: str | None = None,
    id: str | None = None,
    resume: Any = None,
    **options: Any,
) -> WandbRun:
    """Start (or, given the ``run_id`` — W&B's ``id`` — of an existing run, resume) a run and make it current.

    ``project`` defaults to ``RUNWATCH_PROJECT``, then ``WANDB_PROJECT``, then ``uncategorized``;
    ``config`` may be a mapping or an ``argparse.Namespace``. W&B keywords runwatch has no use for
    (``entity``, ``mode``, ``dir`` …) are said once and ignored; an unknown keyword is a TypeError.
    """
    said: set[str] = set()
    run_id = run_id if run_id is not None else id
    options = init_options(options, resume, run_id, said)
    if project is None:
        project = os.environ.get("RUNWATCH_PROJECT") or os.environ.get("WANDB_PROJECT") or "uncategorized"
    run = WandbRun(
        project,
        name,
        config=config_of(config),
        tags=tags,
        notes=notes,
        group=group,
        run_id=run_id,
        redis_url=redis_url,
        **options,
    )
    run.notices.update(said)
    _hooks.set_current(run)
    return run


def __getattr__(name: str) -> Any:
    """``emitter.run`` / ``config`` / ``summary``: the current run's, at each access; W&B names we lack."""
    if name in ("config", "summary"):
        run = _hooks.current()
        if isinstance(run, WandbRun):
            return getattr(run, name)
        return _PreInit(name)
    if name in WANDB_UNSUPPORTED:
        run = _hooks.current()
        said = run.notices if isinstance(run, WandbRun) else set()
        say_once(said, f"wandb.{name}", f"wandb.{name} has no runwatch equivalent; it does nothing here")
        return Unsupported(name)
    raise AttributeError(f"module 'emitter' has no attribute {name!r}")


class _EmitterModule(types.ModuleType):
    """This package's module type: ``emitter.run`` is the current run, although ``emitter/run.py`` exists.

    The import system binds a loaded submodule as an attribute of its package; the property takes
    precedence over it (the submodule stays ``sys.modules["emitter.run"]``, as ``from emitter.run import``
    finds it).
    """

    @property
    def run(self) -> Run | None:
        """The current run (W&B's ``wandb.run``): None before ``init()`` and after ``finish()``."""
        return _hooks.current()

    @run.setter
    def run(self, value: object) -> None:
        if not isinstance(value, types.ModuleType):  # the import system binding emitter/run.py is let be
            raise AttributeError("emitter.run is the current run: start one with emitter.init()")


sys.modules[__name__].__class__ = _EmitterModule
if TYPE_CHECKING:  # what type checkers should see for emitter.run (not the submodule of that name)
    run: WandbRun | None


class _PreInit:
    """``emitter.config`` before ``init()``: using it is the error W&B gives too."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def __getattr__(self, key: str) -> Any:
        raise RuntimeError(f"emitter.{self._name}.{key}: no active run: call emitter.init(project=...) first")

    def __setattr__(self, key: str, value: Any) -> None:
        self.__getattr__(key)

    __getitem__ = __getattr__


def current_run() -> Run | None:
    """The run started by the last ``init()`` in this process, if it has not finished."""
    return _hooks.current()


def _require() -> Run:
    run = _hooks.current()
    if run is None:
        raise RuntimeError("no active run: call emitter.init(project=...) first")
    return run


def _require_wandb() -> WandbRun:
    run = _require()
    if not isinstance(run, WandbRun):
        raise RuntimeError("the current run was not started by emitter.init()")
    return run


def log(values: Mapping[str, Any], step: int | None = None, commit: bool | None = None, sync: Any = None) -> None:
    """``log()`` on the current run (W&B's ``commit=False`` keeps the step for the next call)."""
    run = _require()
    if isinstance(run, WandbRun):
        run.log(values, step, commit, sync)
    else:
        run.log(values, step)


def log_params(params: Mapping[str, Any]) -> None:
    """``log_params()`` on the current run."""
    _require().log_params(params)


def set_tags(*tags: str) -> None:
    """``set_tags()`` on the current run."""
    _require().set_tags(*tags)


def note(text: str) -> None:
    """``note()`` on the current run."""
    _require().note(text)


def alert(title: str, text: str = "", level: Any = "warn", wait_duration: float | timedelta | None = None) -> None:
    """``alert()`` on the current run: the same title within ``wait_duration`` (default 60 s) is sent once."""
    _require_wandb().alert(title, text, level, wait_duration)


def define_metric(name: str, step_metric: str | None = None, **options: Any) -> DefinedMetric:
    """``define_metric()`` on the current run: accepted and recorded."""
    return _require_wandb().define_metric(name, step_metric, **options)


def save(glob_str: str | os.PathLike[str], base_path: str | None = None, policy: str = "live") -> list[ArtifactHandle]:
    """``save()`` on the current run: the matching files as artifacts."""
    return _require_wandb().save(glob_str, base_path, policy)


def log_artifact(
    path: str | os.PathLike[str] | Artifact,
    name: str | None = None,
    *,
    type: str | None = None,
    aliases: Iterable[str] | None = (),
    metadata: Mapping[str, Any] | None = None,
    **options: Any,
) -> ArtifactHandle:
    """``log_artifact()`` on the current run (a path, or a W&B-style ``Artifact``)."""
    return _require_wandb().log_artifact(path, name, type=type, aliases=aliases, metadata=metadata, **options)


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


def finish(status: Any = UNSET, *, exit_code: int | None = None, quiet: bool | None = None) -> None:
    """``finish()`` on the current run, if there is one (W&B: ``finish(exit_code=1)`` or ``finish(1)`` fails it)."""
    run = _hooks.current()
    if isinstance(run, WandbRun):
        run.finish(status, exit_code=exit_code)
    elif run is not None:
        run.finish("finished" if status is UNSET else status, exit_code=exit_code)
