"""Optuna: ``study.optimize(objective, callbacks=[RunwatchCallback()])`` — one runwatch run per trial.

Optuna calls a callback with each trial once it is over (a ``FrozenTrial``), so each trial's run
is written then, whole: its params (the trial's suggestions, plus ``optuna.*`` facts), its
intermediate values (``trial.report``) as a metric series at their steps, its objective value,
and its end. All runs of a study share a ``group`` named after the study.

- complete → ``finished``; pruned → ``killed`` (stopped from outside, by the pruner) with tag
  ``pruned`` and the step it was pruned after; failed → ``failed``. Optuna keeps no error text on
  a failed trial: wrap the objective with ``callback.track(objective)`` and the run gets the
  exception's traceback. Optuna hands a failed trial to callbacks only when ``catch=`` covers its
  exception; otherwise ``optimize`` raises first and no callback runs for it.
- the best trial: a run that is the study's best when it ends gets the tag ``best`` (tags only
  add, so earlier bests keep theirs: the study's best is the latest run tagged ``best``), and every
  run records ``optuna.best_trial`` and ``optuna.best_value`` as they stood at its end, so the last
  run of the group names the current best. Multi-objective studies tag ``pareto`` instead.
"""

from __future__ import annotations

import functools
import logging
import os
import traceback
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from emitter import Run

__all__ = ["RunwatchCallback"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

_STATUS = {"COMPLETE": "finished", "PRUNED": "killed", "FAIL": "failed"}


class RunwatchCallback:
    """Record every trial of an Optuna study as a runwatch run, grouped by study.

    >>> from emitter.integrations.optuna import RunwatchCallback
    >>> runwatch = RunwatchCallback(project="search", intermediate_key="val_loss")
    >>> study = optuna.create_study(study_name="resnet-lr")
    >>> study.optimize(runwatch.track(objective), n_trials=50, callbacks=[runwatch], catch=(ValueError,))

    Other keywords (``redis_url``, ``home``…) go to each trial's ``emitter.Run``.
    """

    def __init__(
        self,
        *,
        project: str | None = None,
        group: str | None = None,
        tags: Iterable[str] = (),
        value_key: str = "value",
        intermediate_key: str = "intermediate_value",
        **run_options: Any,
    ) -> None:
        self.project = project or os.environ.get("RUNWATCH_PROJECT") or "optuna"
        self._group = group
        self._tags = list(tags)
        self._value_key = value_key
        self._intermediate_key = intermediate_key
        self._options = run_options
        self._errors: dict[int, str] = {}  # trial number → traceback, recorded by track()
        self.runs: dict[int, str] = {}  # trial number → run id

    def __repr__(self) -> str:
        return f"<RunwatchCallback project={self.project!r} runs={len(self.runs)}>"

    def track(self, objective: Callable[[Any], T]) -> Callable[[Any], T]:
        """The objective, remembering each failed trial's traceback for its run."""

        @functools.wraps(objective)
        def tracked(trial: Any) -> T:
            try:
                return objective(trial)
            except Exception as error:
                if type(error).__name__ != "TrialPruned":
                    self._errors[trial.number] = "".join(traceback.format_exception(error))
                raise

        return tracked

    def __call__(self, study: Any, trial: Any) -> None:
        state = trial.state.name  # COMPLETE, PRUNED or FAIL once a trial is over
        best_tag, best = self._best(study, trial, state)
        tags = [*self._tags, state.lower(), *([best_tag] if best_tag else [])]
        run = Run(
            self.project,
            f"{study.study_name}-trial-{trial.number}",
            group=self._group or study.study_name,
            tags=tags,
            config=dict(trial.params),
            **self._options,
        )
        self.runs[trial.number] = run.id
        status, reason = _STATUS.get(state, "finished"), None
        try:
            run.log_params(self._facts(study, trial, best))
            last_step = self._log_values(run, study, trial)
            if state == "PRUNED":
                reason = f"pruned by Optuna after step {last_step}" if last_step is not None else "pruned by Optuna"
            elif state == "FAIL":
                reason = self._errors.pop(trial.number, None) or "Optuna marked the trial failed"
            if best_tag == "best":
                run.note(f"best trial of study {study.study_name} so far: value {trial.value}")
        except (TypeError, ValueError) as error:  # a value the emitter refuses must not stop the study
            logger.warning("runwatch: trial %s not fully recorded: %s", trial.number, error)
        finally:
            if reason:
                run.note(reason)
            run.finish(status, traceback=reason)

    # ----------------------------------------------------------------- internals

    def _best(self, study: Any, trial: Any, state: str) -> tuple[str | None, Any]:
        """The tag this trial earns (best / pareto / none) and the study's best trial now."""
        if len(study.directions) > 1:
            pareto = {t.number for t in study.best_trials}
            return ("pareto" if trial.number in pareto else None), None
        try:
            best = study.best_trial
        except ValueError:  # no trial completed yet
            return None, None
        return ("best" if state == "COMPLETE" and best.number == trial.number else None), best

    def _facts(self, study: Any, trial: Any, best: Any) -> dict[str, Any]:
        facts: dict[str, Any] = {
            "optuna.study": study.study_name,
            "optuna.trial": trial.number,
            "optuna.state": trial.state.name,
            "optuna.direction": ",".join(d.name.lower() for d in study.directions),
        }
        if trial.duration is not None:
            facts["optuna.duration_s"] = trial.duration.total_seconds()
        if best is not None:
            facts["optuna.best_trial"] = best.number
            facts["optuna.best_value"] = best.value
        facts.update({f"optuna.user_attrs.{key}": value for key, value in trial.user_attrs.items()})
        return facts

    def _log_values(self, run: Run, study: Any, trial: Any) -> int | None:
        """Intermediate values at their steps, then the objective value(s) at the last step; the last step."""
        steps = sorted(trial.intermediate_values)
        for step in steps:
            run.log({self._intermediate_key: trial.intermediate_values[step]}, step=step)
        last = steps[-1] if steps else None
        values = trial.values
        if values:
            names = getattr(study, "metric_names", None) or (
                [self._value_key] if len(values) == 1 else [f"{self._value_key}_{i}" for i in range(len(values))]
            )
            run.log(dict(zip(names, values, strict=True)), step=last if last is not None else 0)
        return last
