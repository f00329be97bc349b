"""docker-compose.yml validates, the Dockerfile copies what exists, the systemd unit verifies."""

from __future__ import annotations

import fnmatch
import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.deploy._series import DEPLOY
from tests.helpers import ROOT, need_binary

PASSWORDS = {"REDIS_PASSWORD": "s3cret", "GRAFANA_ADMIN_PASSWORD": "admin-s3cret"}


def compose_client() -> list[str]:
    """``docker compose`` (v2 plugin), else ``docker-compose`` (v1); skip when neither is installed."""
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    return [need_binary("docker-compose")]  # skips, or fails under RUNWATCH_TEST_STRICT=1


def compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    client = compose_client()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "GRAFANA_", "RUNWATCH_"))}
    return subprocess.run(
        [*client, "--project-directory", str(DEPLOY), "-f", str(DEPLOY / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
        cwd=str(DEPLOY),
    )


def active_services(config: dict[str, Any], profile: str) -> dict[str, Any]:
    """The services ``COMPOSE_PROFILES=profile`` starts (compose v1's ``config`` lists every profile's)."""
    return {
        name: service
        for name, service in config["services"].items()
        if not service.get("profiles") or profile in service["profiles"]
    }


def test_docker_compose_config_validates_the_stack():
    result = compose_config({**PASSWORDS, "COMPOSE_PROFILES": "single"})
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    config["services"] = active_services(config, "single")
    assert set(config["services"]) == {"redis", "runwatch", "prometheus", "grafana"}
    redis = config["services"]["redis"]
    assert "--appendonly" in redis["command"] and "yes" in redis["command"]
    runwatch = config["services"]["runwatch"]
    assert Path(runwatch["build"]["context"]).resolve() == ROOT
    assert (ROOT / runwatch["build"]["dockerfile"]).is_file()
    assert runwatch["environment"]["RUNWATCH_REDIS_URL"] == "redis://:s3cret@redis:6379/0"
    for service in config["services"].values():  # bind mounts point at files shipped in deploy/
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith(("/", ".")):
                assert Path(source).exists(), source


def test_the_team_profile_runs_postgres_two_collectors_and_two_api_replicas():
    result = compose_config({**PASSWORDS, "POSTGRES_PASSWORD": "pg-s3cret", "COMPOSE_PROFILES": "team"})
    assert result.returncode == 0, result.stderr
    services = active_services(yaml.safe_load(result.stdout), "team")
    expected = {"redis", "postgres", "migrate", "collector-1", "collector-2", "api-1", "api-2"}
    assert set(services) == expected | {"prometheus", "grafana"}
    collectors = [services["collector-1"], services["collector-2"]]
    apis = [services["api-1"], services["api-2"]]
    assert services["migrate"]["command"] == ["migrate"]
    for collector in collectors:
        assert collector["command"][:2] == ["collect", "--no-migrate"]  # the schema is migrate's job
    assert {c["environment"]["RUNWATCH_CONSUMER_NAME"] for c in collectors} == {"collector-1", "collector-2"}
    for api in apis:
        assert api["command"] == ["api"]
    for service in [*collectors, *apis, services["migrate"]]:
        env = service["environment"]
        assert env["RUNWATCH_DATABASE_URL"] == "postgresql://runwatch:pg-s3cret@postgres:5432/runwatch"
        assert env["RUNWATCH_REDIS_URL"] == "redis://:s3cret@redis:6379/0"  # a password: not refused
        assert env["RUNWATCH_AUTH"] == "1"
    prometheus = (DEPLOY / "prometheus" / "prometheus-team.yml").read_text()
    for target in ("collector-1:9108", "collector-2:9108", "api-1:8765", "api-2:8765"):
        assert target in prometheus


def test_the_stack_refuses_to_start_without_passwords():
    result = compose_config({"GRAFANA_ADMIN_PASSWORD": "x"})
    assert result.returncode != 0
    assert "REDIS_PASSWORD" in result.stderr


def dockerfile_stages() -> list[list[str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_dockerfile_is_slim_non_root_with_a_healthz_healthcheck():
    stages = dockerfile_stages()
    final = stages[-1]
    assert all("-slim" in stage[0] for stage in stages)
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    (healthcheck,) = [line for line in final if line.startswith("HEALTHCHECK")]
    assert "/healthz" in healthcheck
    assert any(line.startswith("ENTRYPOINT") and "runwatch" in line for line in final)


def test_dockerfile_copies_only_what_exists_and_the_dockerignore_keeps_it():
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    kept = {line[1:].split("/")[0] for line in ignore if line.startswith("!")}
    for stage in dockerfile_stages():
        for line in stage:
            if line.startswith("COPY ") and "--from=" not in line:
                *sources, _ = line.split()[1:]
                matched = [m for source in sources for m in glob.glob(str(ROOT / source))]
                assert matched, f"{line!r}: nothing to copy"
                for source in sources:
                    top = source.split("/")[0]
                    assert any(fnmatch.fnmatch(name, top) for name in kept), f"{source} is excluded by .dockerignore"


def test_systemd_unit_verifies(tmp_path):
    analyze = need_binary("systemd-analyze", package="systemd")
    unit = (DEPLOY / "systemd" / "runwatch.service").read_text()
    assert "ExecStart=/opt/runwatch/bin/runwatch serve" in unit
    assert "User=runwatch" in unit and "redis-server.service" in unit
    runwatch = shutil.which("runwatch", path=str(Path(sys.executable).parent)) or sys.executable
    (tmp_path / "runwatch.service").write_text(unit.replace("/opt/runwatch/bin/runwatch", runwatch))
    result = subprocess.run(
        [analyze, "verify", str(tmp_path / "runwatch.service")], capture_output=True, text=True, timeout=60
    )
    problems = [line for line in result.stderr.splitlines() if "runwatch.service" in line]
    assert result.returncode == 0 and not problems, result.stderr
