"""Keras 3: ``model.fit(..., callbacks=[RunwatchCallback()])``, on any backend.

``RunwatchCallback`` is a ``keras.callbacks.Callback`` built the first time it is looked up
(module ``__getattr__``), so this module imports without keras.

Every value is logged at the global batch step (batches trained so far in this ``fit``):

- params: ``fit``'s ``epochs`` and ``steps``, the model's name and parameter count, the
  optimizer's config as ``optimizer.<key>``;
- epoch metrics at each epoch's end under Keras' names (``loss``, ``val_loss``, ``accuracy``…)
  plus ``epoch`` (0-based, as Keras counts);
- batch metrics every ``batch_every`` batches (10 by default; ``None`` for none) as
  ``batch/<name>`` (Keras' running means over the epoch so far);
- a non-finite batch ``loss`` at once, as ``loss`` at its step, whatever ``batch_every`` says,
  so a NaN rule fires before ``TerminateOnNaN`` stops training. When training then ends stopped
  early (``model.stop_training``) after such a loss, the run is marked failed with the reason.
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
    RunwatchCallback: type[_RunwatchKeras]  # a keras Callback subclass, built by __getattr__ on first use


class _RunwatchKeras:
    """Stream a Keras ``fit`` to runwatch.

    >>> from emitter.integrations.keras import RunwatchCallback
    >>> model.fit(x, y, epochs=10, validation_split=0.1,
    ...           callbacks=[keras.callbacks.TerminateOnNaN(), RunwatchCallback(project="mnist", batch_every=50)])

    ``run=`` logs into a run you opened (and will finish) yourself; any other keyword
    (``group``, ``tags``, ``notes``, ``config``, ``redis_url``…) goes to ``emitter.init``.
    """

    model: Any  # set by Keras (Callback.set_model)
    params: Any  # set by Keras (Callback.set_params): epochs, steps, verbose

    def __init__(
        self,
        run: Run | None = None,
        *,
        project: str | None = None,
        name: str | None = None,
        batch_every: int | None = 10,
        **init_options: Any,
    ) -> None:
        super().__init__()
        if batch_every is not None and (type(batch_every) is not int or batch_every < 1):
            raise ValueError(f"batch_every must be a positive integer or None, got {batch_every!r}")
        self._binding = RunBinding(
            run,
            project=project or os.environ.get("RUNWATCH_PROJECT") or "keras",
            name=name,
            options=init_options,
            what="Model.fit()",
        )
        self._batch_every = batch_every
        self._step = 0  # batches trained so far in this fit()
        self._epoch_start = 0
        self._loss_broken = False  # the last batch loss seen was non-finite
        self._first_nonfinite: tuple[int, float] | None = None

    @property
    def run(self) -> Run | None:
        """The run this callback logs to (None before training began)."""
        return self._binding.current

    # --------------------------------------------------------------- Keras events

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        params: dict[str, Any] = {key: value for key, value in dict(self.params or {}).items() if key != "verbose"}
        model = self.model
        params["model.name"] = model.name
        params["model.parameters"] = model.count_params()
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "get_config"):
            params.update(flatten(optimizer.get_config(), "optimizer."))
        self._binding.begin(params)
        self._step = self._epoch_start = 0
        self._loss_broken = False
        self._first_nonfinite = None

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        step = self._step = self._epoch_start + batch + 1  # batch: the epoch's index of the last batch run
        if not logs:
            return
        loss = logs.get("loss")
        if isinstance(loss, float):
            if math.isfinite(loss):
                self._loss_broken = False
            elif not self._loss_broken:  # the first of a run of broken losses: now, not at the epoch's end
                self._loss_broken = True
                self._first_nonfinite = self._first_nonfinite or (step, loss)
                self._binding.log({"loss": loss}, step)
        if self._batch_every is not None and step % self._batch_every == 0:
            self._binding.log({f"batch/{key}": value for key, value in numeric(logs).items()}, step)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._epoch_start = self._step
        values = numeric(logs or {})
        values["epoch"] = float(epoch)
        self._binding.log(values, self._step)

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        stopped_early = bool(getattr(self.model, "stop_training", False))
        if self._first_nonfinite is not None and stopped_early:
            step, value = self._first_nonfinite
            reason = f"loss became {value} at step {step}; training was stopped early (TerminateOnNaN)"
            self._binding.end("failed", reason=reason)
        else:
            self._binding.end("finished")


def _build_callback_class() -> type:
    from keras.callbacks import Callback

    return type(
        "RunwatchCallback", (_RunwatchKeras, Callback), {"__doc__": _RunwatchKeras.__doc__, "__module__": __name__}
    )


def __getattr__(name: str) -> Any:
    if name == "RunwatchCallback":
        cls = _build_callback_class()
        globals()[name] = cls  # built once; later look-ups find it directly
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
