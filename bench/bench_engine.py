"""Rule-engine benchmark: points/s through ``alerts.evaluate`` inside the collector's commit.

The default rules watch every metric for non-finite values (``metric: "*"``), so the engine
sees every point the collector commits. Workload: 2,000 events x 10 metrics per batch, the
shape of the collector's commits; baselines in the same run: a rule on one metric only, and
no metric rule at all.

    .venv/bin/python bench/bench_engine.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerts import AlertState, evaluate, parse_rules  # noqa: E402
from collector.alerting import DEFAULT_RULES  # noqa: E402
from emitter.events import Event  # noqa: E402

EVENTS, KEYS, ROUNDS = 2_000, 10, 20
RULESETS = {
    "default rules (every metric)": DEFAULT_RULES,
    "one metric (loss)": "rules:\n  - {name: nan, metric: loss, condition: nonfinite}\n",
    "no metric rule": "rules:\n  - {name: failed, on: status}\n",
}


def points_per_second(text: str) -> float:
    ruleset = parse_rules(text, source="bench")
    state = AlertState()
    now = time.time()
    batch = [
        Event("run", "w", i, now, "metrics", {"step": i, "values": {f"k{k}": float(i + k) for k in range(KEYS)}})
        for i in range(EVENTS)
    ]
    best = 0.0
    for _ in range(ROUNDS):
        started = time.perf_counter()
        evaluate(ruleset, state, batch, now, runs=lambda run_id: None)
        best = max(best, EVENTS * KEYS / (time.perf_counter() - started))
    return best


def main() -> None:
    figures = {name: points_per_second(text) for name, text in RULESETS.items()}
    for name, rate in figures.items():
        print(f"{name:<32} {rate:>12,.0f} points/s through evaluate (best of {ROUNDS})")
    print("JSON: " + json.dumps({"bench": "engine", "points_per_second": figures}))


if __name__ == "__main__":
    main()
