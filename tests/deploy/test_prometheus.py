"""A real Prometheus scrapes a running ``runwatch serve``; promtool checks and unit-tests the rules."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import emitter
from tests.deploy._series import DEPLOY
from tests.helpers import ROOT, free_port, need_binary, wait_for

PROMETHEUS_DIR = DEPLOY / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = need_binary("promtool", package="prometheus")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, cwd=PROMETHEUS_DIR)


def test_promtool_accepts_the_config_and_the_rules():
    for name in ("prometheus.yml", "prometheus-team.yml"):  # the compose profiles "single" and "team"
        config = promtool("check", "config", name)
        assert config.returncode == 0, config.stdout + config.stderr
    rules = promtool("check", "rules", "rules.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS" in rules.stdout


def test_promtool_unit_tests_of_the_rules_pass():
    result = promtool("test", "rules", "rules_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_severity_a_summary_and_a_unit_test():
    rules = yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]
    tested = (PROMETHEUS_DIR / "rules_test.yml").read_text()
    for alert in alerts:
        assert alert["labels"]["severity"] in {"info", "warning", "critical"}, alert["alert"]
        assert alert["annotations"]["summary"], alert["alert"]
    untested = {a["alert"] for a in alerts} - set(re.findall(r"alertname: (\w+)", tested))
    # informational alerts on counters are one-liners; everything warning or worse is tested
    assert untested <= {a["alert"] for a in alerts if a["labels"]["severity"] == "info"}, untested


def test_the_shipped_config_scrapes_runwatch_and_loads_the_rules():
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    assert config["rule_files"] == ["rules.yml"]
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "runwatch"]
    assert job["static_configs"][0]["targets"] == ["runwatch:8765"]  # the compose service name and port


# ------------------------------------------------------------------ real Prometheus, real service


class Process:
    """A subprocess whose output goes to a file, shown when a test fails."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        self._out = open(log, "w")  # noqa: SIM115 - open for the life of the process
        self.process = subprocess.Popen(args, env=env, cwd=str(ROOT), stdout=self._out, stderr=subprocess.STDOUT)

    def tail(self) -> str:
        return f"--- {self.name} ---\n" + self.log.read_text()[-3000:]

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._out.close()


def get_json(url: str, **params: str) -> dict[str, Any] | None:
    try:
        response = httpx.get(url, params=params, timeout=2)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


@pytest.fixture
def runwatch_serve(emitter_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """``runwatch serve`` in a subprocess against the test's Redis, prefix and home; yields its port."""
    port = free_port()
    monkeypatch.setenv("RUNWATCH_SHARDS", "2")  # the emitters of this test
    env = {
        **emitter_env,
        "RUNWATCH_SHARDS": "2",
        "RUNWATCH_PORT": str(port),
        "RUNWATCH_HOST": "127.0.0.1",
        "RUNWATCH_CONSUMER_NAME": "serve-under-test",
        "PYTHONUNBUFFERED": "1",
    }
    serve = Process("runwatch serve", [sys.executable, "-m", "collector", "serve"], env, tmp_path / "serve.log")
    try:
        wait_for(
            lambda: not serve.alive() or get_json(f"http://127.0.0.1:{port}/healthz"),
            timeout=30,
            what="runwatch serve /healthz",
        )
        assert serve.alive(), serve.tail()
        yield port
    finally:
        serve.stop()


def start_prometheus(tmp_path: Path, target_port: int) -> tuple[Process, int]:
    binary = need_binary("prometheus")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [
                    {"job_name": "runwatch", "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}]}
                ],
            }
        )
    )
    args = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=1h",
        "--log.level=warn",
    ]
    process = Process("prometheus", args, {**os.environ}, tmp_path / "prometheus.log")
    wait_for(
        lambda: not process.alive() or get_json(f"http://127.0.0.1:{port}/api/v1/status/buildinfo"),
        timeout=20,
        what="prometheus to start",
    )
    assert process.alive(), process.tail()
    return process, port


def test_prometheus_scrapes_the_training_metric_of_a_running_job(runwatch_serve, tmp_path):
    prometheus, prometheus_port = start_prometheus(tmp_path, runwatch_serve)
    run = emitter.init("prom-e2e", name="scraped-run", heartbeat_interval=0.5)
    for step in range(100):
        run.log({"val/acc": step / 128, "loss": 1.0 / (step + 1)}, step=step)
    stop = threading.Event()

    def keep_logging() -> None:  # the job goes on logging other keys while Prometheus scrapes
        tick = 0.0
        while not stop.wait(0.1):
            tick += 1
            run.log({"tick": tick}, step=100)

    logger = threading.Thread(target=keep_logging, daemon=True)
    logger.start()
    query = f"http://127.0.0.1:{prometheus_port}/api/v1/query"

    def scraped_value() -> float | None:
        body = get_json(query, query=f'runwatch_run_metric{{run_id="{run.id}", key="val/acc"}}')
        results = (body or {}).get("data", {}).get("result", [])
        return float(results[0]["value"][1]) if results else None

    def results(promql: str) -> list[Any]:
        body = get_json(query, query=promql)
        assert body is not None, f"Prometheus did not answer {promql}"
        return list(body["data"]["result"])

    try:
        try:
            wait_for(lambda: scraped_value() is not None, timeout=30, what="Prometheus to store runwatch_run_metric")
        except BaseException:
            print(prometheus.tail(), file=sys.stderr)
            raise
        assert scraped_value() == 99 / 128  # exactly representable: no rounding excuses
        labels = results(f'runwatch_run_metric{{run_id="{run.id}", key="val/acc"}}')[0]["metric"]
        assert labels["project"] == "prom-e2e" and labels["run_name"] == "scraped-run" and labels["job"] == "runwatch"
        steps = results(f'runwatch_run_step{{run_id="{run.id}"}}')
        assert float(steps[0]["value"][1]) == 100
        status = results(f'runwatch_run_status{{run_id="{run.id}"}} == 1')
        assert status[0]["metric"]["status"] == "running"
        ingested = results("sum(runwatch_points_ingested_total)")
        assert float(ingested[0]["value"][1]) >= 200
        up = results('up{job="runwatch"}')
        assert float(up[0]["value"][1]) == 1
    finally:
        stop.set()
        logger.join(5)
        run.finish()
        prometheus.stop()


def test_the_image_healthcheck_command_passes_against_a_running_service(runwatch_serve):
    dockerfile = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    (line,) = [line for line in dockerfile.splitlines() if line.startswith("HEALTHCHECK")]
    command = line.split(" CMD ", 1)[1]
    assert "/healthz" in command
    shell = shutil.which("sh") or "/bin/sh"
    env = {
        **os.environ,
        "RUNWATCH_PORT": str(runwatch_serve),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    assert subprocess.run([shell, "-c", command], env=env, timeout=10).returncode == 0
    env["RUNWATCH_PORT"] = str(free_port())  # nothing listens there: unhealthy
    assert subprocess.run([shell, "-c", command], env=env, timeout=10, capture_output=True).returncode != 0
