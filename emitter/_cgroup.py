"""The limits a container puts on the job (cgroup v2 or v1), and its memory use against them.

Host figures lie inside a container: /proc/meminfo shows the machine's memory, while the
kernel kills the job at its cgroup's ``memory.max``. So where a limit applies (a number, below
the host's memory), the sampler reports it too, with the cgroup's working set (usage less
inactive file cache: what the OOM killer counts, as ``docker stats`` and the kubelet do) and
the CPU quota in cores. No limit → no values (nothing to alert on).
"""

from __future__ import annotations

from pathlib import Path

from ._probes import MB

_UNLIMITED_V1 = 1 << 62  # cgroup v1 writes "no limit" as a huge page-aligned number


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _stat(path: Path, field: str) -> int:
    text = _read(path) or ""
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == field:
            return int(value)
    return 0


class CgroupLimits:
    """Memory and CPU limits of this process's cgroup (v2 unified, else v1 ``memory``/``cpu`` controllers)."""

    name = "cgroup"

    def __init__(self, root: Path = Path("/sys/fs/cgroup"), proc: Path = Path("/proc")) -> None:
        self._host_total = self._host_memory(proc)
        paths: dict[str, str] = {}
        for line in (_read(proc / "self" / "cgroup") or "").splitlines():
            _id, _, rest = line.partition(":")
            controllers, _, path = rest.partition(":")
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path.lstrip("/")
        self.version = 2 if (root / "cgroup.controllers").exists() else 1
        if self.version == 2:
            self._memory = self._cpu = self._dir(root, paths.get("", ""), "memory.max")
        else:
            self._memory = self._dir(root / "memory", paths.get("memory", ""), "memory.limit_in_bytes")
            self._cpu = self._dir(root / "cpu", paths.get("cpu", ""), "cpu.cfs_quota_us")

    @staticmethod
    def _host_memory(proc: Path) -> int:
        for line in (_read(proc / "meminfo") or "").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
        return 0

    @staticmethod
    def _dir(base: Path, path: str, marker: str) -> Path | None:
        """The process's own cgroup directory, or the mount's root (a container sees its cgroup as ``/``)."""
        for candidate in (base / path, base):
            if (candidate / marker).exists():
                return candidate
        return None

    def sample(self, now: float) -> dict[str, float]:
        values: dict[str, float] = {}
        limit, used = self._memory_figures()
        if limit is not None and (not self._host_total or limit < self._host_total):
            values["system/cgroup/memory_limit_mb"] = limit / MB
            values["system/cgroup/memory_used_mb"] = used / MB
            values["system/cgroup/memory_percent"] = 100.0 * used / limit if limit else 0.0
        cores = self._cpu_cores()
        if cores is not None:
            values["system/cgroup/cpu_limit"] = cores
        return values

    def _memory_figures(self) -> tuple[int | None, int]:
        directory = self._memory
        if directory is None:
            return None, 0
        if self.version == 2:
            raw, usage, inactive = _read(directory / "memory.max"), "memory.current", "inactive_file"
        else:
            raw, usage, inactive = (
                _read(directory / "memory.limit_in_bytes"),
                "memory.usage_in_bytes",
                "total_inactive_file",
            )
        if raw is None or not raw.isdigit() or int(raw) >= _UNLIMITED_V1:
            return None, 0
        current = int(_read(directory / usage) or 0)
        return int(raw), max(0, current - _stat(directory / "memory.stat", inactive))

    def _cpu_cores(self) -> float | None:
        directory = self._cpu
        if directory is None:
            return None
        if self.version == 2:
            quota, _, period = (_read(directory / "cpu.max") or "max").partition(" ")
        else:
            quota, period = _read(directory / "cpu.cfs_quota_us") or "-1", _read(directory / "cpu.cfs_period_us") or ""
        if not quota.isdigit() or not period.isdigit() or not int(period):
            return None  # "max" / -1: no quota
        return int(quota) / int(period)
