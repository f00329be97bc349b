"""PyTorch Lightning: ``Trainer(logger=RunwatchLogger())``.

``RunwatchLogger`` implements ``lightning.pytorch.loggers.Logger`` and is built the first time it
is looked up (module ``__getattr__``), so this module imports without lightning.

It writes on global rank zero only (``rank_zero_only``): in distributed training the other
ranks neither open a run nor log. What it records:

- ``log_hyperparams``: the module's ``save_hyperparameters()`` (nested dicts as dotted keys);
- ``log_metrics``: whatever the module ``self.log``-s, at the step Lightning gives. Lightning
  hands loggers what it gathered every ``log_every_n_steps`` (50 by default), so a value that
  existed only between two of those never reaches any logger;
- ``finalize(status)``: ``success`` finishes the run; ``failed`` (Lightning calls it from inside
  its exception handler) fails it with the exception's traceback, or marks it killed for a
  ``KeyboardInterrupt``. A ``test()`` after ``fit()`` resumes the same run and finishes it again;
- ``after_save_checkpoint``: each new checkpoint file as a note (``checkpoints="note"``), as an
  artifact record (``checkpoints="artifact"``, ``run.log_artifact``), or not at all (``None``).
"""

from __future__ import annotations

import os
import sys
import traceback
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emitter import Run

from ._binding import RunBinding
from ._values import flatten, numeric

__all__ = ["RunwatchLogger"]

if TYPE_CHECKING:
    RunwatchLogger: type[_RunwatchLightning]  # a lightning Logger subclass, built by __getattr__ on first use

_CHECKPOINT_MODES = ("note", "artifact", None)


class _RunwatchLightning:
    """Stream a Lightning ``Trainer`` run to runwatch.

    >>> from emitter.integrations.lightning import RunwatchLogger
    >>> trainer = lightning.pytorch.Trainer(max_epochs=3, logger=RunwatchLogger(project="mnist"))
    >>> trainer.fit(model, datamodule=data)
    >>> trainer.test(model, datamodule=data)     # joins the same run

    ``run=`` logs into a run you opened (and will finish) yourself; any other keyword
    (``group``, ``tags``, ``notes``, ``config``, ``redis_url``…) goes to ``emitter.init``.
    """

    def __init__(
        self,
        run: Run | None = None,
        *,
        project: str | None = None,
        name: str | None = None,
        checkpoints: str | None = "note",
        **init_options: Any,
    ) -> None:
        super().__init__()
        if checkpoints not in _CHECKPOINT_MODES:
            raise ValueError(f"checkpoints must be 'note', 'artifact' or None, got {checkpoints!r}")
        self._binding = RunBinding(
            run,
            project=project or os.environ.get("RUNWATCH_PROJECT") or "lightning",
            name=name,
            options=init_options,
            what="Trainer.fit()",
        )
        self._checkpoints = checkpoints
        self._recorded_checkpoints: set[str] = set()

    # ------------------------------------------------- what Lightning asks of it

    @property
    def name(self) -> str:
        return self._binding.project

    @property
    def version(self) -> str | None:
        """The run id (Lightning names checkpoint folders after it); None on other ranks."""
        from lightning.pytorch.utilities import rank_zero_only

        if getattr(rank_zero_only, "rank", 0) != 0:
            return None
        run = self._binding.current  # asking for the id never resumes a finished run
        return (run if run is not None else self._open()).id

    @property
    def experiment(self) -> Run | None:
        """The runwatch ``Run`` (Lightning's name for a logger's backend object); None on other ranks."""
        from lightning.pytorch.utilities import rank_zero_only

        return self._open() if getattr(rank_zero_only, "rank", 0) == 0 else None

    @property
    def run(self) -> Run | None:
        """The run this logger writes to (None before anything was logged)."""
        return self._binding.current

    def log_hyperparams(self, params: Mapping[str, Any] | Namespace | None, *args: Any, **kwargs: Any) -> None:
        plain = vars(params) if isinstance(params, Namespace) else dict(params or {})
        self._open()
        self._binding.log_params(flatten(plain))

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        self._open()
        self._binding.log(numeric(metrics), step)

    def finalize(self, status: str) -> None:
        if self._binding.current is None:
            return
        error = sys.exc_info()[1]  # Lightning finalizes "failed" inside its except block
        if status != "failed" or (isinstance(error, SystemExit) and error.code in (0, None)):
            self._binding.end("finished")
        elif error is None:
            self._binding.end("failed", reason="Lightning finalized the run as failed")
        else:
            text = "".join(traceback.format_exception(error))
            self._binding.end("killed" if isinstance(error, KeyboardInterrupt) else "failed", traceback=text)

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        if self._checkpoints is None:
            return
        scores = dict(getattr(checkpoint_callback, "best_k_models", None) or {})  # empty without a monitor
        paths = [
            *scores,
            getattr(checkpoint_callback, "best_model_path", ""),
            getattr(checkpoint_callback, "last_model_path", ""),
        ]
        for path in paths:
            if not path or path in self._recorded_checkpoints:
                continue
            self._recorded_checkpoints.add(path)
            self._record_checkpoint(str(path), scores.get(path))

    # ----------------------------------------------------------------- internals

    def _open(self) -> Run:
        """Our run, opened at the first thing Lightning logs (resumed if a stage already finished it)."""
        if self._binding.current is None:
            return self._binding.begin()
        return self._binding.run()

    def _record_checkpoint(self, path: str, score: Any) -> None:
        run = self._open()
        log_artifact = getattr(run, "log_artifact", None)
        if self._checkpoints == "artifact" and log_artifact is not None:
            self._binding.call("log_artifact", log_artifact, path, Path(path).name)
            return
        scored = f" (score {float(score):.6g})" if score is not None else ""
        self._binding.note(f"checkpoint saved: {path}{scored}")


_RANK_ZERO_METHODS = ("log_hyperparams", "log_metrics", "finalize", "after_save_checkpoint")


def _build_logger_class() -> type:
    from lightning.pytorch.loggers import Logger
    from lightning.pytorch.utilities import rank_zero_only

    namespace: dict[str, Any] = {"__doc__": _RunwatchLightning.__doc__, "__module__": __name__}
    for method in _RANK_ZERO_METHODS:
        namespace[method] = rank_zero_only(getattr(_RunwatchLightning, method))
    return type("RunwatchLogger", (_RunwatchLightning, Logger), namespace)


def __getattr__(name: str) -> Any:
    if name == "RunwatchLogger":
        cls = _build_logger_class()
        globals()[name] = cls  # built once; later look-ups find it directly
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
