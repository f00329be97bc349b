"""What each framework integration costs a training step: the same tiny CPU training with and without it.

    .venv/bin/python bench/bench_callbacks.py [--steps 300] [--rounds 5] [--only hf,lightning,keras,optuna]

Needs the frameworks (``make install-integrations``). Starts its own redis-server on a free port
and a ``runwatch collect`` process (so a finishing run's wait for confirmation ends as it would in
production; ``log()`` itself never waits on the network). For each framework the rounds alternate
without / with the integration (the order flips every round), each training ``--steps`` steps of
a tiny model on CPU (torch on one thread); a clock callback present in both variants marks every
step's end. Logging is at its most frequent: HF ``logging_steps=1``, Lightning
``log_every_n_steps=1``, Keras ``batch_every=1``. Figures, medians over all steps:

- training-thread CPU time per step (``time.thread_time``: what the step costs the thread that
  trains, untouched by other processes on a shared machine): ``baseline``, ``with``, ``delta``;
- ``inside``: CPU time spent inside the integration's per-step methods (its forward hook
  included), summed and divided by steps — the overhead without the step-to-step noise (the
  timer adds ~0.5 µs a call);
- wall time per step, baseline / with / delta: what a user sees, noise of a shared machine included;
- HF parts: the callback's per-step methods alone in a tight loop, beside ``Run.log`` of the same
  values in the same process: what the integration adds over the emitter's own call.

Lightning's baseline has a do-nothing Logger, so the figure is ours, not Lightning's own logging
path. Optuna is per trial (a run opened, written and finished per trial), not per step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("KERAS_BACKEND", "torch")

from bench.bench_pipeline import start_redis  # noqa: E402


class Meter:
    """Wraps chosen methods of one object and sums the time spent in them."""

    def __init__(self, target: Any, names: list[str]) -> None:
        self.seconds = 0.0
        self.calls = 0
        for name in names:
            setattr(target, name, self._timed(getattr(target, name)))

    def _timed(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds += time.thread_time() - started
                self.calls += 1

        return timed


class StepClock:
    """Step-end marks, on the training thread's CPU clock and on the wall clock."""

    def __init__(self) -> None:
        self.cpu: list[float] = []
        self.wall: list[float] = []

    def tick(self) -> None:
        self.cpu.append(time.thread_time())
        self.wall.append(time.perf_counter())

    def step_times(self) -> Steps:
        return Steps(_differences(self.cpu), _differences(self.wall))


class Steps:
    def __init__(self, cpu: list[float], wall: list[float]) -> None:
        self.cpu = cpu
        self.wall = wall


def _differences(marks: list[float]) -> list[float]:
    return [b - a for a, b in zip(marks, marks[1:], strict=False)]


# ---------------------------------------------------------------- frameworks


def hf_round(steps: int, with_callback: bool) -> tuple[Steps, Meter | None]:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainerCallback, TrainingArguments

    from emitter.integrations.hf import RunwatchCallback

    clock = StepClock()

    class Clock(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            clock.tick()

    class Data(torch.utils.data.Dataset):  # type: ignore[misc]
        ids = torch.randint(0, 64, (steps * 4, 8), generator=torch.Generator().manual_seed(0))

        def __len__(self) -> int:
            return len(self.ids)

        def __getitem__(self, i: int) -> dict[str, Any]:
            return {"input_ids": self.ids[i], "labels": self.ids[i].sum() % 2}

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=64, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, num_labels=2
    )
    callbacks: list[Any] = [Clock()]
    meter = None
    if with_callback:
        callback = RunwatchCallback(project="bench-hf")
        meter = Meter(callback, ["on_step_end", "on_log", "_on_forward"])
        callbacks.append(callback)
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            max_steps=steps,
            per_device_train_batch_size=4,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            use_cpu=True,
            disable_tqdm=True,
        )
        Trainer(
            model=BertForSequenceClassification(config), args=args, train_dataset=Data(), callbacks=callbacks
        ).train()
    return clock.step_times(), meter


def lightning_round(steps: int, with_callback: bool) -> tuple[Steps, Meter | None]:
    import lightning.pytorch as pl
    import torch
    from lightning.pytorch.loggers import Logger
    from torch import nn

    from emitter.integrations.lightning import RunwatchLogger

    clock = StepClock()

    class Clock(pl.Callback):  # type: ignore[misc]
        def on_train_batch_end(self, *args: Any, **kwargs: Any) -> None:
            clock.tick()

    class Silent(Logger):  # type: ignore[misc]
        name, version = "silent", "0"

        def log_metrics(self, metrics: Any, step: Any = None) -> None:
            pass

        def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
            pass

    class TwoLayer(pl.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))

        def training_step(self, batch: Any, index: int) -> Any:
            x, y = batch
            loss = nn.functional.mse_loss(self.net(x), y)
            self.log("loss", loss)
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.01)

    x = torch.randn(steps * 4, 4, generator=torch.Generator().manual_seed(0))
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=4)
    meter = None
    logger: Any = Silent()
    if with_callback:
        logger = RunwatchLogger(project="bench-lightning", checkpoints=None)
        meter = Meter(logger, ["log_metrics"])
    trainer = pl.Trainer(
        max_steps=steps,
        accelerator="cpu",
        logger=logger,
        log_every_n_steps=1,
        callbacks=[Clock()],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(TwoLayer(), data)
    return clock.step_times(), meter


def keras_round(steps: int, with_callback: bool) -> tuple[Steps, Meter | None]:
    import keras
    import numpy as np

    from emitter.integrations.keras import RunwatchCallback

    clock = StepClock()

    class Clock(keras.callbacks.Callback):  # type: ignore[misc]
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            clock.tick()

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", metrics=["mae"])
    x = np.random.default_rng(0).standard_normal((steps * 4, 4)).astype("float32")
    callbacks: list[Any] = [Clock()]
    meter = None
    if with_callback:
        callback = RunwatchCallback(project="bench-keras", batch_every=1)
        meter = Meter(callback, ["on_train_batch_end", "on_epoch_end"])
        callbacks.append(callback)
    model.fit(x, x.sum(1, keepdims=True), batch_size=4, epochs=1, verbose=0, callbacks=callbacks)
    return clock.step_times(), meter


def optuna_round(trials: int, with_callback: bool) -> tuple[Steps, Meter | None]:
    import optuna

    from emitter.integrations.optuna import RunwatchCallback

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    clock = StepClock()

    def objective(trial: Any) -> float:
        x = trial.suggest_float("x", -5, 5)
        for step in range(10):
            trial.report((x - 1) ** 2 + 1 / (step + 1), step)
        return float((x - 1) ** 2)

    callbacks: list[Any] = [lambda study, trial: clock.tick()]
    meter = None
    if with_callback:
        callback = RunwatchCallback(project="bench-optuna")
        meter = Meter(callback, ["__call__"])
        callbacks.insert(0, lambda study, trial: callback.__call__(study, trial))  # the instance's, metered
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=trials, callbacks=callbacks)
    return clock.step_times(), meter


def hf_parts(calls: int = 20_000, repeats: int = 5) -> dict[str, float]:
    """The HF callback's per-step methods alone, in a tight loop, against ``Run.log`` of the same values."""
    import torch
    from transformers.modeling_outputs import SequenceClassifierOutput

    import emitter
    from emitter.integrations.hf import RunwatchCallback

    class State:
        is_world_process_zero, global_step = True, 0

    class Args:
        run_name, output_dir = None, "out"

        def to_sanitized_dict(self) -> dict[str, Any]:
            return {"learning_rate": 1e-3}

    class Model(torch.nn.Module):  # type: ignore[misc]
        training = True

    callback, state, model = RunwatchCallback(project="bench-parts"), State(), Model()
    callback.on_train_begin(Args(), state, None, model=None)
    output = SequenceClassifierOutput(loss=torch.tensor(0.5), logits=None)
    logs = {"loss": 0.5, "grad_norm": 0.3, "learning_rate": 1e-3, "epoch": 0.1}
    run = emitter.init("bench-parts-raw")

    def step(i: int) -> None:
        callback._on_forward(model, (), output)
        state.global_step = i
        callback.on_step_end(None, state, None)

    def timed(work: Callable[[int], None]) -> float:
        medians = []
        for _ in range(repeats):
            started = time.thread_time()
            for i in range(calls):
                work(i)
            medians.append((time.thread_time() - started) / calls * 1e6)
        return statistics.median(medians)

    parts = {
        "forward_hook_and_step_end_us": timed(step),
        "on_log_us": timed(lambda i: callback.on_log(None, state, None, logs=logs)),
        "run_log_same_values_us": timed(lambda i: run.log(logs, i)),
    }
    run.finish()
    callback.on_train_end(None, state, None)
    print(
        f"hf parts, training thread CPU per call: forward hook + on_step_end {parts['forward_hook_and_step_end_us']:.2f} µs, "
        f"on_log (4 values) {parts['on_log_us']:.2f} µs, Run.log of the same 4 values {parts['run_log_same_values_us']:.2f} µs",
        flush=True,
    )
    return parts


ROUNDS: dict[str, Callable[[int, bool], tuple[Steps, Meter | None]]] = {
    "hf": hf_round,
    "lightning": lightning_round,
    "keras": keras_round,
    "optuna": optuna_round,
}


def measure(name: str, steps: int, rounds: int) -> dict[str, float]:
    run_round = ROUNDS[name]
    run_round(min(steps, 20), True)  # warm-up: imports, first-call costs, the first run's start
    cpu: dict[bool, list[float]] = {False: [], True: []}
    wall: dict[bool, list[float]] = {False: [], True: []}
    inside: list[float] = []
    for index in range(rounds):
        for flag in (False, True) if index % 2 == 0 else (True, False):
            times, meter = run_round(steps, flag)
            cpu[flag].extend(times.cpu)
            wall[flag].extend(times.wall)
            if meter is not None:
                inside.append(meter.seconds / max(len(times.cpu) + 1, 1))
    figures = {
        "cpu_baseline_us": statistics.median(cpu[False]) * 1e6,
        "cpu_with_us": statistics.median(cpu[True]) * 1e6,
        "inside_cpu_us": statistics.median(inside) * 1e6,
        "wall_baseline_us": statistics.median(wall[False]) * 1e6,
        "wall_with_us": statistics.median(wall[True]) * 1e6,
    }
    figures["cpu_delta_us"] = figures["cpu_with_us"] - figures["cpu_baseline_us"]
    figures["wall_delta_us"] = figures["wall_with_us"] - figures["wall_baseline_us"]
    unit = "trial" if name == "optuna" else "step"
    print(
        f"{name:<10} per {unit}, training thread CPU: baseline {figures['cpu_baseline_us']:9.1f} µs  "
        f"with {figures['cpu_with_us']:9.1f} µs  delta {figures['cpu_delta_us']:+8.1f} µs  "
        f"inside the integration {figures['inside_cpu_us']:7.1f} µs | wall: baseline "
        f"{figures['wall_baseline_us']:9.1f} µs  with {figures['wall_with_us']:9.1f} µs  "
        f"delta {figures['wall_delta_us']:+9.1f} µs",
        flush=True,
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="steps per round (trials for optuna: a tenth)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default=",".join(ROUNDS), help="comma-separated: " + ",".join(ROUNDS))
    options = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # one core per step on a shared 2-core machine: steadier step times
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        redis_process, url = start_redis(Path(tmp) / "redis", appendonly=False)
        home = Path(tmp) / "home"
        os.environ.update({"RUNWATCH_REDIS_URL": url, "RUNWATCH_PREFIX": "bench", "RUNWATCH_HOME": str(home)})
        # a collector, so a finishing run's confirmation wait ends as it would in production
        collector = subprocess.Popen(
            [sys.executable, "-m", "collector", "collect"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while not (home / "runwatch.db").exists():
                time.sleep(0.05)
            if "hf" in options.only.split(","):
                results["hf_parts"] = hf_parts()
            for name in options.only.split(","):
                steps = max(options.steps // 10, 10) if name == "optuna" else options.steps
                results[name] = measure(name, steps, options.rounds)
        finally:
            collector.terminate()
            collector.wait(30)
            redis_process.kill()
            redis_process.wait()
    print("JSON: " + json.dumps({"steps": options.steps, "rounds": options.rounds, **results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
