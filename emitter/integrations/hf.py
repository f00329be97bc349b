"""Hugging Face Transformers: ``Trainer(..., callbacks=[RunwatchCallback()])``.

``RunwatchCallback`` is a ``transformers.TrainerCallback`` built the first time it is looked up
(module ``__getattr__``), so this module imports without transformers.

What it records, on the main process only (``state.is_world_process_zero``):

- params: ``TrainingArguments.to_sanitized_dict()`` and the model's config as ``model.<key>``;
- every ``on_log`` entry (``loss``, ``grad_norm``, ``learning_rate``, ``eval_*``, ``train_loss``…)
  at ``state.global_step``, so evaluation metrics arrive with the step they were taken at;
- a non-finite training loss at the step it happened. Trainer's ``logging_nan_inf_filter`` (on by
  default) replaces a NaN/Inf step loss by the running average before anything is logged, so
  ``on_log`` never shows it. The callback reads the raw loss instead, from a forward hook on the
  model (``outputs.loss`` of a forward in training mode, detached, no host sync there), and at
  ``on_step_end`` logs a non-finite one as ``loss`` at that step, where a NaN rule sees it. The
  next logged ``loss`` (an average over a window that held the NaN, with the NaN replaced by
  filler) is then that non-finite value too, and Trainer's filtered figure goes to
  ``loss_filtered``: the ``loss`` series never shows a finite value for a window that was not,
  so an alert on it neither resolves nor fires again while the loss is still broken.
  A model that returns no ``loss`` (a custom ``compute_loss``) leaves only ``on_log``.
- status: finished at ``on_train_end``; failed when training began and never ended (see
  ``_binding``: the emitter's excepthook with the traceback, or this module's exit hook).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from emitter import Run

from ._binding import RunBinding
from ._values import flatten, numeric

__all__ = ["RunwatchCallback"]

if TYPE_CHECKING:
    RunwatchCallback: type[_RunwatchHF]  # a TrainerCallback subclass, built by __getattr__ on first use

_MAX_PENDING_LOSSES = 1024  # forwards between two optimizer steps (gradient accumulation) before a check


class _RunwatchHF:
    """Stream a ``transformers.Trainer`` run to runwatch.

    >>> from emitter.integrations.hf import RunwatchCallback
    >>> trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=val,
    ...                   callbacks=[RunwatchCallback(project="bert-tiny", tags=["baseline"])])
    >>> trainer.train()

    ``run=`` logs into a run you opened (and will finish) yourself; any other keyword
    (``group``, ``tags``, ``notes``, ``config``, ``redis_url``…) goes to ``emitter.init``.
    """

    def __init__(
        self,
        run: Run | None = None,
        *,
        project: str | None = None,
        name: str | None = None,
        log_model_config: bool = True,
        **init_options: Any,
    ) -> None:
        self._binding = RunBinding(
            run,
            project=project or os.environ.get("RUNWATCH_PROJECT") or "huggingface",
            name=name,
            options=init_options,
            what="Trainer.train()",
        )
        self._log_model_config = log_model_config
        self._losses: list[Any] = []  # detached loss tensors of the forwards since the last optimizer step
        self._hook: Any = None
        self._state: Any = None  # Trainer's TrainerState: global_step for a check between steps
        self._window_nonfinite: float | None = None  # a non-finite step loss since the last logged loss

    @property
    def run(self) -> Run | None:
        """The run this callback logs to (None before training began)."""
        return self._binding.current

    # ------------------------------------------------------------ Trainer events

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        params = dict(args.to_sanitized_dict())
        config = getattr(model, "config", None)
        if self._log_model_config and config is not None and hasattr(config, "to_dict"):
            params.update(flatten(config.to_dict(), "model."))
        if model is not None and hasattr(model, "num_parameters"):
            params["model.num_parameters"] = model.num_parameters()
        run_name = getattr(args, "run_name", None)
        given_name = run_name if run_name and run_name != getattr(args, "output_dir", None) else None
        self._binding.begin(params, name=given_name)
        self._state = state
        self._watch_loss(model)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._losses:
            self._log_nonfinite_loss(state.global_step)

    def on_log(self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        values = numeric(logs)
        if self._window_nonfinite is not None and "loss" in values:
            values["loss_filtered"] = values["loss"]
            values["loss"] = self._window_nonfinite
            self._window_nonfinite = None
        self._binding.log(values, state.global_step)
        if not self._binding.training:  # an evaluate() after (or without) train(): the run ends again
            self._binding.close("finished")

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        if self._losses:
            self._log_nonfinite_loss(state.global_step)
        self._unwatch_loss()
        self._binding.end("finished")

    # -------------------------------------------------------- the raw step loss

    def _watch_loss(self, model: Any) -> None:
        self._unwatch_loss()
        self._losses = []
        self._window_nonfinite = None
        if model is not None and hasattr(model, "register_forward_hook"):
            self._hook = model.register_forward_hook(self._on_forward)

    def _unwatch_loss(self) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def _on_forward(self, module: Any, inputs: Any, output: Any) -> None:
        """Keep the loss of a training forward (a tensor still on its device: no sync here)."""
        if not module.training:
            return
        loss = output.get("loss") if isinstance(output, Mapping) else getattr(output, "loss", None)
        if loss is not None and hasattr(loss, "detach"):
            self._losses.append(loss.detach())
            if len(self._losses) >= _MAX_PENDING_LOSSES:
                self._log_nonfinite_loss(self._state.global_step + 1)  # the step being computed

    def _log_nonfinite_loss(self, step: int) -> None:
        """Log the first non-finite loss of the step; Trainer's own NaN check already synced on it."""
        losses, self._losses = self._losses, []
        for loss in losses:
            value = float(loss) if loss.numel() == 1 else float(loss.float().mean())
            if not math.isfinite(value):
                self._binding.log({"loss": value}, step)
                if self._window_nonfinite is None:
                    self._window_nonfinite = value
                return


def _build_callback_class() -> type:
    from transformers import TrainerCallback

    return type(
        "RunwatchCallback", (_RunwatchHF, TrainerCallback), {"__doc__": _RunwatchHF.__doc__, "__module__": __name__}
    )


def __getattr__(name: str) -> Any:
    if name == "RunwatchCallback":
        cls = _build_callback_class()
        globals()[name] = cls  # built once; later look-ups find it directly
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
