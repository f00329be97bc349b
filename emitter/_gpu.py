"""Per-GPU values through NVML (``nvidia-ml-py``, optional): absent or no GPU → no probe, no warning.

A training environment without NVIDIA's bindings, or a machine without a driver or a GPU,
is normal, not a fault: ``open_gpus()`` then returns None and the sampler simply has no GPU
series. A value one GPU does not offer (power on some boards, temperature in some VMs) is left
out for that GPU alone. GPUs are numbered as NVML numbers them (all of the machine's, whatever
``CUDA_VISIBLE_DEVICES`` says).
"""

from __future__ import annotations

import logging
from typing import Any

from ._probes import MB

logger = logging.getLogger(__name__)


class Gpus:
    """Utilisation, memory, temperature and power of every GPU NVML sees."""

    name = "gpu"

    def __init__(self, nvml: Any, handles: list[Any]) -> None:
        self._nvml = nvml
        self._handles = handles

    def sample(self, now: float) -> dict[str, float]:
        values: dict[str, float] = {}
        for index, handle in enumerate(self._handles):
            values.update(self._one(f"system/gpu/{index}", handle))
        return values

    def _one(self, prefix: str, handle: Any) -> dict[str, float]:
        nvml, values = self._nvml, {}
        readings: list[tuple[str, Any]] = [
            ("utilization", lambda: nvml.nvmlDeviceGetUtilizationRates(handle).gpu),
            ("memory_utilization", lambda: nvml.nvmlDeviceGetUtilizationRates(handle).memory),
            ("temperature", lambda: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)),
            ("power_w", lambda: nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0),
        ]
        for key, read in readings:
            try:
                values[f"{prefix}/{key}"] = float(read())
            except nvml.NVMLError:
                continue  # not offered by this GPU
        try:
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
        except nvml.NVMLError:
            return values
        values[f"{prefix}/memory_used_mb"] = memory.used / MB
        values[f"{prefix}/memory_total_mb"] = memory.total / MB
        values[f"{prefix}/memory_percent"] = 100.0 * memory.used / memory.total if memory.total else 0.0
        return values

    def close(self) -> None:
        try:
            self._nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001 - shutting down a library that is going away anyway
            pass


def open_gpus() -> Gpus | None:
    """The GPU probe, or None without ``nvidia-ml-py``, a driver or a GPU (said at debug level only)."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception as problem:  # noqa: BLE001 - NVMLError_LibraryNotFound, _DriverNotLoaded, …: no GPU here
        logger.debug("runwatch: no GPU metrics (%s)", problem)
        return None
    try:
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
    except Exception as problem:  # noqa: BLE001
        logger.debug("runwatch: no GPU metrics (%s)", problem)
        handles = []
    gpus = Gpus(pynvml, handles)
    if not handles:
        gpus.close()
        return None
    return gpus
