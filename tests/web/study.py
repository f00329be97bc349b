"""Groups of runs for the group page's browser tests: an Optuna study as its callback records it, and plain sweeps.

``seed_study`` writes what ``emitter.integrations.optuna.RunwatchCallback`` writes for each trial of a
minimising study (Optuna itself is only in the ``integrations-test`` extra): one run per trial in a
group named after the study, the trial's params in ``run.start`` (a conditional one, ``momentum``, only
when the optimizer is sgd), the ``optuna.*`` facts as a params event, ``intermediate_value`` at steps,
the objective as ``value`` at the last step, ``best``/state tags, and the end status (pruned → killed,
failed → failed, neither with a value).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from tests.fake_run import FakeRun

OPTIMIZERS = ("adam", "sgd", "rmsprop")
_STATUS = {"COMPLETE": "finished", "PRUNED": "killed", "FAIL": "failed"}


class GroupedRun(FakeRun):
    """A FakeRun whose ``run.start`` names a group (FakeRun's carries none)."""

    def __init__(self, store: Any, project: str, *, group: str, **kwargs: Any) -> None:
        self.group = group
        super().__init__(store, project, **kwargs)

    def emit(self, kind: str, payload: dict[str, Any], ts: float | None = None) -> None:
        if kind == "run.start":
            payload = {**payload, "group": self.group}
        super().emit(kind, payload, ts)


@dataclass
class Trial:
    number: int
    name: str
    run_id: str
    params: dict[str, Any]
    state: str
    value: float | None
    steps: int  # intermediate values logged


def trial_params(number: int) -> dict[str, Any]:
    """What a sampler would suggest: lr log-uniform over 1e-5..1e-1, an int, a category, one conditional param."""
    params: dict[str, Any] = {
        "lr": 10 ** (-5 + 4 * ((number * 0.618034) % 1)),
        "layers": 1 + number % 4,
        "optimizer": OPTIMIZERS[number % 3],
    }
    if params["optimizer"] == "sgd":
        params["momentum"] = round(0.5 + 0.45 * ((number * 0.377) % 1), 3)
    return params


def objective(params: dict[str, Any]) -> float:
    """Lowest near lr = 1e-3, better with fewer layers, adam first."""
    penalty = {"adam": 0.0, "sgd": 0.3, "rmsprop": 0.15}[params["optimizer"]]
    return (
        (math.log10(params["lr"]) + 3) ** 2 + 0.05 * params["layers"] + penalty + (1 - params.get("momentum", 1)) * 0.2
    )


def state_of(number: int) -> str:
    return "FAIL" if number % 11 == 9 else "PRUNED" if number % 7 == 5 else "COMPLETE"


def seed_study(store: Any, name: str = "resnet-lr", trials: int = 24, project: str = "optuna") -> list[Trial]:
    """The runs of a minimising study's trials, written in trial order as the callback writes them."""
    written: list[Trial] = []
    best: Trial | None = None
    for number in range(trials):
        params, state = trial_params(number), state_of(number)
        value = objective(params) if state == "COMPLETE" else None
        trial = Trial(number, f"{name}-trial-{number}", "", params, state, value, 0)
        if value is not None and (best is None or best.value is None or value < best.value):
            best = trial
        is_best = best is trial
        run = GroupedRun(store, project, group=name, name=trial.name, config=params,
                         tags=[state.lower(), *(["best"] if is_best else [])])  # fmt: skip
        trial.run_id = run.id
        facts: dict[str, Any] = {
            "optuna.study": name,
            "optuna.trial": number,
            "optuna.state": state,
            "optuna.direction": "minimize",
            "optuna.duration_s": 1.5 + number,
        }
        if best is not None:
            facts.update({"optuna.best_trial": best.number, "optuna.best_value": best.value})
        items: list[tuple[str, dict[str, Any], float | None]] = [("params", {"params": facts}, None)]
        trial.steps = 0 if state == "FAIL" else 3 if state == "PRUNED" else 5
        base = value if value is not None else objective(params)
        for step in range(trial.steps):
            items.append(("metrics", {"step": step, "values": {"intermediate_value": base + (5 - step) * 0.1}}, None))
        if value is not None:
            items.append(("metrics", {"step": trial.steps - 1, "values": {"value": value}}, None))
        items.append(("status", {"status": _STATUS[state]}, time.time()))
        run.write(items)
        written.append(trial)
    return written


def ranking(trials: list[Trial]) -> list[str]:
    """Run ids best first, as the group page ranks them: by value, then the trials without one by name."""
    valued = sorted((t for t in trials if t.value is not None), key=lambda t: (t.value, t.name))
    rest = sorted((t for t in trials if t.value is None), key=lambda t: t.name)
    return [t.run_id for t in valued + rest]
