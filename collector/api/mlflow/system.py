"""MLflow's system metrics under runwatch's ``system/…`` names, sent as ``system`` events.

``mlflow.enable_system_metrics_logging()`` (or ``MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING=true``) makes
the client log ``system/cpu_utilization_percentage``, ``system/gpu_0_utilization_percentage`` …
as ordinary metrics. Renamed to the emitter's own names (``emitter/_probes.py``; units converted:
MLflow's megabytes are 10**6 bytes, runwatch's MB 2**20 and GB 2**30), an MLflow job's samples
meet the same shipped rules (GPU idle, memory, disk), charts and exporter series as a native run.
A ``system/…`` key with no runwatch counterpart keeps its name and still travels as a system value.
"""

from __future__ import annotations

import re

_MB = 1e6 / (1 << 20)  # one MLflow megabyte in runwatch MB
_GB = 1e6 / (1 << 30)  # one MLflow megabyte in runwatch GB

#: MLflow's name (after ``system/``) → (runwatch's name, factor).
_HOST: dict[str, tuple[str, float]] = {
    "cpu_utilization_percentage": ("system/cpu_percent", 1.0),
    "system_memory_usage_megabytes": ("system/memory/used_mb", _MB),
    "system_memory_usage_percentage": ("system/memory/percent", 1.0),
    "disk_usage_percentage": ("system/disk/used_percent", 1.0),
    "disk_available_megabytes": ("system/disk/free_gb", _GB),
    "disk_usage_megabytes": ("system/disk/used_gb", _GB),
    "network_receive_megabytes": ("system/network/recv_mb", _MB),  # MLflow's are totals, not rates
    "network_transmit_megabytes": ("system/network/sent_mb", _MB),
}
_GPU = re.compile(r"gpu_(\d+)_(.+)")
_PER_GPU: dict[str, tuple[str, float]] = {
    "utilization_percentage": ("utilization", 1.0),
    "memory_usage_percentage": ("memory_percent", 1.0),
    "memory_usage_megabytes": ("memory_used_mb", _MB),
    "memory_usage_gigabytes": ("memory_used_mb", 1e9 / (1 << 20)),  # ROCm's monitor
    "power_usage_watts": ("power_w", 1.0),
    "power_usage_percentage": ("power_percent", 1.0),
}

PREFIX = "system/"


def is_system(key: str) -> bool:
    return key.startswith(PREFIX)


def system_name(key: str, value: float) -> tuple[str, float]:
    """``(runwatch name, value in runwatch's unit)`` of an MLflow ``system/…`` metric."""
    name = key[len(PREFIX) :]
    if name in _HOST:
        renamed, factor = _HOST[name]
        return renamed, value * factor
    gpu = _GPU.fullmatch(name)
    if gpu and gpu.group(2) in _PER_GPU:
        renamed, factor = _PER_GPU[gpu.group(2)]
        return f"system/gpu/{gpu.group(1)}/{renamed}", value * factor
    return key, value
