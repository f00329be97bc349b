"""What the system sampler reads, straight from /proc and the file system: no dependency at all.

Each probe reads one source and returns ``system/…`` values; a probe of rates (CPU, disk and
network throughput) keeps its previous reading, so its first call only sets the baseline and
returns nothing. Probes raise whatever the kernel's files give them (a missing file, a format
they do not know): the sampler catches, says so once and counts (``_system.py``).

Units: percentages 0-100 (a process's CPU may pass 100 with several busy threads, as ``top``
shows it), memory in MB of 2**20 bytes, rates in MB/s, disk space in GB of 2**30 bytes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

MB = float(1 << 20)
GB = float(1 << 30)
_SECTOR = 512  # /proc/diskstats counts 512-byte sectors whatever the device's own size
#: Block devices that are not disks of their own (or mirror one already counted): never summed.
_NOT_DISKS = ("loop", "ram", "zram", "dm-", "md", "sr", "fd", "nbd")


class Probe(Protocol):
    """One source of system values."""

    name: str

    def sample(self, now: float) -> dict[str, float]:
        """The values at ``now`` (monotonic seconds); rates are per second since the last call."""
        ...


class _Rate:
    """Counters → per-second rates between two calls (none on the first, none if a counter went back)."""

    def __init__(self) -> None:
        self._last: tuple[float, dict[str, float]] | None = None

    def per_second(self, now: float, counters: dict[str, float], scale: float = 1.0) -> dict[str, float]:
        last, self._last = self._last, (now, counters)
        if last is None or now <= last[0]:
            return {}
        elapsed = now - last[0]
        return {
            key: (value - last[1][key]) / elapsed / scale
            for key, value in counters.items()
            if key in last[1] and value >= last[1][key]
        }


class HostCpu:
    """Host CPU busy percent over all cores, from the first line of /proc/stat."""

    name = "cpu"

    def __init__(self, proc: Path = Path("/proc")) -> None:
        self._path = proc / "stat"
        self._last: tuple[int, int] | None = None

    def sample(self, now: float) -> dict[str, float]:
        with open(self._path, "rb") as file:
            fields = file.readline().split()
        if fields[0] != b"cpu":
            raise ValueError(f"{self._path}: first line is not the cpu total")
        ticks = [int(value) for value in fields[1:9]]  # user nice system idle iowait irq softirq steal
        total, idle = sum(ticks), ticks[3] + ticks[4]
        last, self._last = self._last, (total, idle)
        if last is None or total <= last[0]:
            return {}
        return {"system/cpu_percent": 100.0 * (1.0 - (idle - last[1]) / (total - last[0]))}


class HostMemory:
    """Host memory from /proc/meminfo: used means total less available (what could be had without swapping)."""

    name = "memory"

    def __init__(self, proc: Path = Path("/proc")) -> None:
        self._path = proc / "meminfo"

    def sample(self, now: float) -> dict[str, float]:
        found: dict[bytes, int] = {}
        with open(self._path, "rb") as file:
            for line in file:
                key, _, rest = line.partition(b":")
                if key in (b"MemTotal", b"MemAvailable"):
                    found[key] = int(rest.split()[0]) * 1024
                    if len(found) == 2:
                        break
        total, available = found[b"MemTotal"], found[b"MemAvailable"]
        return {
            "system/memory/total_mb": total / MB,
            "system/memory/available_mb": available / MB,
            "system/memory/used_mb": (total - available) / MB,
            "system/memory/percent": 100.0 * (total - available) / total,
        }


class ProcessUsage:
    """This process: CPU percent of one core (all threads; ``os.times``) and resident memory (/proc/self/statm)."""

    name = "process"

    def __init__(self, proc: Path = Path("/proc")) -> None:
        self._statm = proc / "self" / "statm"
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._rate = _Rate()

    def sample(self, now: float) -> dict[str, float]:
        times = os.times()
        values = {
            f"system/proc/{key}": value
            for key, value in self._rate.per_second(now, {"cpu_percent": (times.user + times.system) * 100}).items()
        }
        with open(self._statm, "rb") as file:
            resident = int(file.read().split()[1])
        values["system/proc/memory_rss_mb"] = resident * self._page / MB
        return values


class DiskSpace:
    """Space on the file system holding ``path`` (where the job writes: its working directory)."""

    name = "disk"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = os.fspath(path)

    def sample(self, now: float) -> dict[str, float]:
        stat = os.statvfs(self._path)
        used = (stat.f_blocks - stat.f_bfree) * stat.f_frsize
        available = stat.f_bavail * stat.f_frsize  # what a non-root user may still write, as df says
        return {
            "system/disk/used_percent": 100.0 * used / (used + available) if used + available else 0.0,
            "system/disk/free_gb": available / GB,
        }


class DiskIo:
    """Read and write throughput of the machine's disks, from /proc/diskstats (whole disks only)."""

    name = "disk_io"

    def __init__(self, proc: Path = Path("/proc"), sys_block: Path = Path("/sys/block")) -> None:
        self._path = proc / "diskstats"
        try:
            names = os.listdir(sys_block)
        except OSError:
            names = []
        self._disks = {name.encode() for name in names if not name.startswith(_NOT_DISKS)}
        self._rate = _Rate()

    def sample(self, now: float) -> dict[str, float]:
        read = written = 0
        with open(self._path, "rb") as file:
            for line in file:
                fields = line.split()
                if fields[2] in self._disks:
                    read += int(fields[5])
                    written += int(fields[9])
        counters = {"read_mb_s": float(read * _SECTOR), "write_mb_s": float(written * _SECTOR)}
        return {f"system/disk/{key}": value for key, value in self._rate.per_second(now, counters, MB).items()}


class Network:
    """Bytes received and sent per second over every interface but loopback, from /proc/net/dev."""

    name = "network"

    def __init__(self, proc: Path = Path("/proc")) -> None:
        self._path = proc / "net" / "dev"
        self._rate = _Rate()

    def sample(self, now: float) -> dict[str, float]:
        received = sent = 0
        with open(self._path, "rb") as file:
            for line in file.readlines()[2:]:
                interface, _, rest = line.partition(b":")
                if interface.strip() == b"lo":
                    continue
                fields = rest.split()
                received += int(fields[0])
                sent += int(fields[8])
        counters = {"recv_mb_s": float(received), "sent_mb_s": float(sent)}
        return {f"system/network/{key}": value for key, value in self._rate.per_second(now, counters, MB).items()}
