"""Runs side by side: their params (the differing ones marked) and their series overlaid.

Built on the store's Protocols only, so it is the same for every backend.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..store.base import Store

DEFAULT_KEYS = 8  # series overlaid when none are named: the keys most of the runs share


def compare_runs(
    store: Store, run_ids: Sequence[str], keys: Sequence[str] | None = None, *, max_points: int = 1000
) -> dict[str, Any]:
    """Params side by side (``differs`` marks keys whose values are not all equal) and the series of ``keys``."""
    runs = store.runs.brief(run_ids)
    ids = [run["id"] for run in runs]
    params: dict[str, dict[str, Any]] = {}
    for run_id in ids:
        for key, value in store.runs.params(run_id).items():
            params.setdefault(key, {})[run_id] = value
    table = []
    for key in sorted(params):
        values = params[key]
        spellings = {json.dumps(v, sort_keys=True, default=str) for v in values.values()}
        table.append({"key": key, "values": values, "differs": len(values) != len(ids) or len(spellings) > 1})
    if keys is None:
        counts: dict[str, int] = {}
        for run_id in ids:
            for key in store.series.keys(run_id, kind="metrics"):
                counts[key] = counts.get(key, 0) + 1
        keys = sorted(counts, key=lambda k: (-counts[k], k))[:DEFAULT_KEYS]
    return {
        "runs": runs,
        "params": table,
        "keys": list(keys),
        "series": {run_id: store.series.read(run_id, keys, max_points=max_points) for run_id in ids},
    }
