"""System metrics: what the probes read, how the sampler runs, and what a running job stores."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import emitter
from emitter._cgroup import CgroupLimits
from emitter._gpu import Gpus, open_gpus
from emitter._probes import MB, DiskIo, HostCpu, HostMemory, Network
from emitter._system import SystemSampler, default_probes, system_interval
from tests.helpers import wait_for

HOST_KEYS = {
    "system/cpu_percent",
    "system/proc/cpu_percent",
    "system/proc/memory_rss_mb",
    "system/memory/total_mb",
    "system/memory/available_mb",
    "system/memory/used_mb",
    "system/memory/percent",
    "system/disk/used_percent",
    "system/disk/free_gb",
    "system/disk/read_mb_s",
    "system/disk/write_mb_s",
    "system/network/recv_mb_s",
    "system/network/sent_mb_s",
}


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# ------------------------------------------------------------------ probes


def test_host_cpu_is_the_busy_share_of_ticks_between_two_readings(tmp_path):
    proc = _write(tmp_path, {"stat": "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 2 3\n"})
    cpu = HostCpu(proc)
    assert cpu.sample(0.0) == {}  # the first reading is the baseline
    _write(proc, {"stat": "cpu  150 0 150 900 0 0 0 0 0 0\n"})  # 100 busy of 200 ticks
    assert cpu.sample(1.0) == {"system/cpu_percent": 50.0}


def test_host_memory_used_is_total_less_available(tmp_path):
    proc = _write(tmp_path, {"meminfo": "MemTotal: 1048576 kB\nMemFree: 1 kB\nMemAvailable: 262144 kB\n"})
    assert HostMemory(proc).sample(0.0) == {
        "system/memory/total_mb": 1024.0,
        "system/memory/available_mb": 256.0,
        "system/memory/used_mb": 768.0,
        "system/memory/percent": 75.0,
    }


def test_disk_and_network_rates_count_whole_disks_and_skip_loopback(tmp_path):
    sys_block = tmp_path / "block"
    for name in ("vda", "loop0", "dm-0"):
        (sys_block / name).mkdir(parents=True)
    line = "{} 0 {} 1 0 {} 0 1 0 {} 0 0 0 0\n"
    proc = _write(tmp_path / "proc", {"diskstats": line.format(253, "vda", 0, 0) + line.format(7, "loop0", 0, 0)})
    _write(proc, {"net/dev": "h1\nh2\n    lo: 0 0 0 0 0 0 0 0 0 0 0\n  eth0: 0 0 0 0 0 0 0 0 0 0 0\n"})
    disks, network = DiskIo(proc, sys_block), Network(proc)
    assert disks.sample(0.0) == {} and network.sample(0.0) == {}
    sectors = 2 * int(MB) // 512  # 2 MB read on vda in 2 s; the loop device's reads are not a disk's
    disk_lines = line.format(253, "vda", sectors, sectors // 2) + line.format(7, "loop0", sectors * 9, 0)
    _write(proc, {"diskstats": disk_lines})
    _write(proc, {"net/dev": f"h1\nh2\n    lo: {10**9} 0 0 0 0 0 0 0 0 0 0\n  eth0: {4 * int(MB)} 0 0 0 0 0 0 0 0 0\n"})
    assert disks.sample(2.0) == {"system/disk/read_mb_s": 1.0, "system/disk/write_mb_s": 0.5}
    assert network.sample(2.0) == {"system/network/recv_mb_s": 2.0, "system/network/sent_mb_s": 0.0}


def test_a_cgroup_v2_limit_is_reported_with_its_working_set_and_cpu_quota(tmp_path):
    proc = _write(tmp_path / "proc", {"self/cgroup": "0::/job\n", "meminfo": "MemTotal: 16777216 kB\n"})
    root = _write(
        tmp_path / "cg",
        {
            "cgroup.controllers": "cpu memory\n",
            "job/memory.max": str(4 << 30),
            "job/memory.current": str(3 << 30),
            "job/memory.stat": f"anon 1\ninactive_file {1 << 30}\n",
            "job/cpu.max": "150000 100000\n",
        },
    )
    assert CgroupLimits(root, proc).sample(0.0) == {
        "system/cgroup/memory_limit_mb": 4096.0,
        "system/cgroup/memory_used_mb": 2048.0,  # the page cache it may drop is not counted
        "system/cgroup/memory_percent": 50.0,
        "system/cgroup/cpu_limit": 1.5,
    }


def test_a_cgroup_v1_limit_is_found_and_no_limit_gives_no_values(tmp_path):
    proc = _write(tmp_path / "proc", {"self/cgroup": "4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n"})
    _write(proc, {"meminfo": "MemTotal: 16777216 kB\n"})
    root = _write(
        tmp_path / "cg",
        {
            "memory/docker/abc/memory.limit_in_bytes": str(2 << 30),
            "memory/docker/abc/memory.usage_in_bytes": str(1 << 30),
            "memory/docker/abc/memory.stat": "total_inactive_file 0\n",
            "cpu/docker/abc/cpu.cfs_quota_us": "-1\n",
            "cpu/docker/abc/cpu.cfs_period_us": "100000\n",
        },
    )
    limits = CgroupLimits(root, proc)
    assert limits.sample(0.0) == {
        "system/cgroup/memory_limit_mb": 2048.0,
        "system/cgroup/memory_used_mb": 1024.0,
        "system/cgroup/memory_percent": 50.0,
    }
    _write(root, {"memory/docker/abc/memory.limit_in_bytes": "9223372036854771712"})  # v1's "unlimited"
    assert limits.sample(1.0) == {}


def test_without_nvml_or_without_a_gpu_there_is_no_gpu_probe_and_nothing_is_said(monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    assert open_gpus() is None  # nvidia-ml-py installed (the test extra) but no driver here, or not installed
    monkeypatch.setitem(sys.modules, "pynvml", None)  # a training environment without nvidia-ml-py
    assert open_gpus() is None
    assert not any(name.startswith("system/gpu/") for probe in default_probes() for name in probe.sample(0.0))
    assert [r for r in caplog.records if r.name.startswith("emitter")] == []


class FakeNvml:
    """NVML's Python surface as ``Gpus`` uses it (no GPU here): two boards, the second without a power sensor."""

    NVML_TEMPERATURE_GPU = 0

    class NVMLError(Exception):
        pass

    def nvmlDeviceGetUtilizationRates(self, handle):
        return SimpleNamespace(gpu=[97, 3][handle], memory=[40, 1][handle])

    def nvmlDeviceGetTemperature(self, handle, sensor):
        return [71, 35][handle]

    def nvmlDeviceGetPowerUsage(self, handle):
        if handle == 1:
            raise self.NVMLError("Not Supported")
        return 250_000  # milliwatts

    def nvmlDeviceGetMemoryInfo(self, handle):
        return SimpleNamespace(used=[8 << 30, 0][handle], total=16 << 30)

    def nvmlShutdown(self):
        pass


def test_each_gpu_reports_under_its_index_and_a_value_it_lacks_is_left_out():
    values = Gpus(FakeNvml(), [0, 1]).sample(0.0)
    assert values == {
        "system/gpu/0/utilization": 97.0,
        "system/gpu/0/memory_utilization": 40.0,
        "system/gpu/0/temperature": 71.0,
        "system/gpu/0/power_w": 250.0,
        "system/gpu/0/memory_used_mb": 8192.0,
        "system/gpu/0/memory_total_mb": 16384.0,
        "system/gpu/0/memory_percent": 50.0,
        "system/gpu/1/utilization": 3.0,
        "system/gpu/1/memory_utilization": 1.0,
        "system/gpu/1/temperature": 35.0,
        "system/gpu/1/memory_used_mb": 0.0,
        "system/gpu/1/memory_total_mb": 16384.0,
        "system/gpu/1/memory_percent": 0.0,
    }


# ------------------------------------------------------------------ sampler


class Broken:
    name = "broken"

    def sample(self, now: float) -> dict[str, float]:
        raise OSError("no such file: /proc/imaginary")


class Counter:
    name = "counter"

    def __init__(self) -> None:
        self.calls = 0

    def sample(self, now: float) -> dict[str, float]:
        self.calls += 1
        return {"system/test/calls": float(self.calls)}


def test_a_failing_probe_is_said_once_and_counted_while_the_others_go_on(caplog):
    samples: list[dict[str, float]] = []
    enough = threading.Event()

    def emit(values: dict[str, float]) -> None:
        samples.append(values)
        if len(samples) == 3:
            enough.set()

    sampler = SystemSampler(emit, interval=0.01, probes=lambda: [Broken(), Counter()])
    sampler.start()
    assert enough.wait(30)
    sampler.stop()
    assert samples[:3] == [{"system/test/calls": 2.0}, {"system/test/calls": 3.0}, {"system/test/calls": 4.0}]
    assert sampler.failures["broken"] >= 4 and "failures=broken:" in repr(sampler)
    said = [r for r in caplog.records if "broken failed" in r.getMessage()]
    assert len(said) == 1 and "/proc/imaginary" in said[0].getMessage()


def test_a_sampler_whose_sink_or_probes_raise_never_raises_and_stops_at_once():
    def refuse(values: dict[str, float]) -> None:
        raise RuntimeError("run is finished")

    sampler = SystemSampler(refuse, interval=0.01, probes=lambda: [Counter()])
    sampler.start()
    wait_for(lambda: sampler.failures.get("emit", 0) >= 2, what="two refused samples")
    sampler.stop()
    no_probes = SystemSampler(refuse, interval=0.01, probes=lambda: 1 / 0)  # type: ignore[arg-type,return-value]
    no_probes.start()
    wait_for(lambda: no_probes.failures.get("probes") == 1, what="the probes' failure counted")
    no_probes.stop()


def test_the_interval_comes_from_the_environment_and_zero_or_false_turns_sampling_off(monkeypatch, caplog):
    monkeypatch.delenv("RUNWATCH_SYSTEM_INTERVAL")
    assert system_interval() == 10.0 and system_interval(True) == 10.0 and system_interval(False) is None
    monkeypatch.setenv("RUNWATCH_SYSTEM_INTERVAL", "2.5")
    assert system_interval() == 2.5
    monkeypatch.setenv("RUNWATCH_SYSTEM_INTERVAL", "0")
    assert system_interval() is None
    monkeypatch.setenv("RUNWATCH_SYSTEM_INTERVAL", "often")
    assert system_interval() == 10.0  # a bad value is said and the default used: the job still starts
    assert "RUNWATCH_SYSTEM_INTERVAL='often'" in caplog.text


# ------------------------------------------------------------ a running job


def test_a_running_job_stores_system_values_at_the_set_interval_without_moving_its_step(
    emitter_env, collector, store, monkeypatch, caplog
):
    interval = 0.2
    monkeypatch.setenv("RUNWATCH_SYSTEM_INTERVAL", str(interval))
    run = emitter.init("sysmetrics", system_metrics=True)

    def stored() -> list[str]:
        return store.series.keys(run.id, kind="system")

    step = 0
    while len(list(store.series.points(run.id, ["system/memory/percent"]))) < 4:
        run.log({"loss": 1.0 / (step + 1)}, step=step)  # the training loop goes on meanwhile
        step += 1
        wait_for(stored, timeout=30, interval=0.02, what="the first system sample")
    run.finish()
    wait_for(lambda: store.runs.get(run.id).status == "finished", what="the run finished")

    keys = set(stored())
    assert keys >= HOST_KEYS and not any(key.startswith("system/gpu/") for key in keys)  # no GPU here
    assert store.series.keys(run.id, kind="metrics") == ["loss"]
    points = list(store.series.points(run.id, ["system/memory/percent"]))
    times = [point.ts for point in points]
    assert all(later - earlier >= 0.9 * interval for earlier, later in zip(times, times[1:], strict=False))
    assert all(0.0 < point.value < 100.0 for point in points)
    assert max(point.step for point in points) <= step - 1  # samples sit at the training step, never past it
    assert store.runs.get(run.id).last_step == step - 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "system" in r.getMessage()]


def test_system_metrics_false_starts_no_sampler(emitter_env, monkeypatch):
    monkeypatch.setenv("RUNWATCH_SYSTEM_INTERVAL", "0.01")
    before = {thread.name for thread in threading.enumerate()}
    run = emitter.init("sysmetrics", system_metrics=False)
    assert "runwatch-system" not in {thread.name for thread in threading.enumerate()} - before
    run.finish()


def test_finish_stops_the_sampler_thread(emitter_env, monkeypatch):
    monkeypatch.setenv("RUNWATCH_SYSTEM_INTERVAL", "0.05")
    run = emitter.init("sysmetrics")
    sampler_threads = [t for t in threading.enumerate() if t.name == "runwatch-system"]
    assert sampler_threads and all(t.daemon for t in sampler_threads)
    run.finish()
    assert not any(t.is_alive() for t in sampler_threads)
