"""deploy/k8s/ checked statically against the code: commands, flags, env names, probe paths, wiring.

Nothing here needs a cluster: each manifest is read as YAML and every name in it is looked up
where the code defines it (the click commands of ``collector.cli.main``, ``Settings``, the
emitter's ``RUNWATCH_REDIS_*`` list, the routes of the apps the commands serve).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import redis.asyncio as aioredis
import yaml

from alerts import parse_rules
from collector.api.app import create_app, create_metrics_app
from collector.cli import main
from collector.settings import Settings
from emitter._redis_connect import EMITTER_REDIS_ENV
from tests.deploy._series import DEPLOY

K8S = DEPLOY / "k8s"


def documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in documents() if doc["kind"] == kind]


def named(kind: str, name: str) -> dict[str, Any]:
    (found,) = [doc for doc in of_kind(kind) if doc["metadata"]["name"] == name]
    return found


def workloads() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, container) for every Deployment and Job."""
    for doc in [*of_kind("Deployment"), *of_kind("Job")]:
        for container in doc["spec"]["template"]["spec"]["containers"]:
            yield doc, container


def env_names(container: dict[str, Any]) -> set[str]:
    """Every variable a container gets: its own ``env`` and all keys of the ConfigMaps/Secrets it loads."""
    names = {entry["name"] for entry in container.get("env", [])}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            names |= set(named("ConfigMap", source["configMapRef"]["name"])["data"])
        if "secretRef" in source:
            names |= set(named("Secret", source["secretRef"]["name"])["stringData"])
    return names


def known_commands() -> dict[str, click.Command]:
    assert isinstance(main, click.Group)
    return dict(main.commands)


def test_the_kustomization_lists_every_manifest():
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}


def test_every_container_runs_a_runwatch_command_with_options_it_has():
    commands = known_commands()
    seen = set()
    for doc, container in workloads():
        name, *options = container["args"]
        seen.add(name)
        assert name in commands, f"{doc['metadata']['name']}: `runwatch {name}` does not exist"
        flags = {opt for param in commands[name].params for opt in param.opts}
        for option in options:
            if option.startswith("--"):
                assert option in flags, f"`runwatch {name}` has no {option}"
    assert {"collect", "migrate", "api"} <= seen


def test_every_environment_variable_is_a_setting_or_named_by_the_alert_rules():
    settings = {f"RUNWATCH_{field.upper()}" for field in Settings.model_fields} | set(EMITTER_REDIS_ENV)
    rules = named("ConfigMap", "runwatch-alerts")["data"]["alerts.yaml"]
    for doc, container in workloads():
        for name in env_names(container):
            if name.startswith("RUNWATCH_"):
                assert name in settings, f"{doc['metadata']['name']}: {name} is no setting (collector/settings.py)"
            else:
                assert f"${{{name}}}" in rules, f"{doc['metadata']['name']}: {name} is used by nothing"


def test_the_shared_settings_validate_as_settings(monkeypatch):
    data = named("ConfigMap", "runwatch-config")["data"]
    secrets = named("Secret", "runwatch-secrets")["stringData"]
    for key, value in {**data, **secrets}.items():
        if key.startswith("RUNWATCH_"):
            monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.auth and settings.host == "0.0.0.0"
    assert settings.database_url and settings.database_url.startswith("postgresql://")
    assert settings.redis_url and settings.redis_url.startswith("rediss://")
    assert settings.redis_tls_ca == Path("/etc/runwatch/redis-tls/ca.crt")
    assert settings.alerts_path == Path("/etc/runwatch/alerts.yaml")


def test_the_alert_rules_configmap_is_a_valid_rules_file():
    text = named("ConfigMap", "runwatch-alerts")["data"]["alerts.yaml"]
    ruleset = parse_rules(text, "alerts-configmap.yaml", env={"SLACK_WEBHOOK_URL": "https://hooks.slack.com/x"})
    assert {rule.name for rule in ruleset.rules} >= {"loss-nan", "lost"}


def routes_of(command: str, tmp_path: Path) -> set[str]:
    """The HTTP paths the process started by ``runwatch <command>`` serves."""
    from collector.store.sqlite import SQLiteStore

    settings = Settings(home=tmp_path, artifacts_url=f"file://{tmp_path / 'artifacts'}")
    store = SQLiteStore(tmp_path / "routes.db")
    redis = aioredis.from_url("redis://127.0.0.1:1/0")  # never connected: only the routes are read
    try:
        if command == "collect":
            app = create_metrics_app(settings, redis=redis, store=store)
        else:  # serve, and `runwatch api` (the full app without the consumer)
            app = create_app(settings, redis=redis, store=store)
        return {getattr(route, "path", "") for route in app.routes}
    finally:
        store.close()


def test_probes_ask_real_endpoints_on_the_port_the_container_serves(tmp_path):
    probed = 0
    for doc, container in workloads():
        command = container["args"][0]
        ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
        for kind in ("livenessProbe", "readinessProbe"):
            if doc["kind"] == "Job":
                continue
            probe = container[kind]["httpGet"]
            assert probe["path"] in routes_of(command, tmp_path), f"{command}: no route {probe['path']}"
            assert probe["port"] in ports, f"{doc['metadata']['name']}: probe port {probe['port']} is not declared"
            probed += 1
        if command == "collect":  # the probes' port is the one --metrics-port opens
            args = container["args"]
            assert int(args[args.index("--metrics-port") + 1]) == ports["metrics"]
    assert probed == 4
    assert {"/healthz", "/readyz"} <= routes_of("collect", tmp_path)


def test_liveness_is_healthz_and_readiness_is_readyz():
    for doc, container in workloads():
        if doc["kind"] == "Deployment":
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"  # the process answers
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"  # Redis and the store answer


def test_services_select_the_deployments_and_the_servicemonitor_scrapes_their_ports(tmp_path):
    deployments = of_kind("Deployment")
    services = of_kind("Service")
    for service in services:
        selector = service["spec"]["selector"]
        matched = [d for d in deployments if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert matched, f"Service {service['metadata']['name']} selects no Deployment"
        container_ports = {
            p["name"] for d in matched for c in d["spec"]["template"]["spec"]["containers"] for p in c["ports"]
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in container_ports
    (monitor,) = of_kind("ServiceMonitor")
    labels = monitor["spec"]["selector"]["matchLabels"]
    service_ports = {
        p["name"] for s in services if labels.items() <= s["metadata"]["labels"].items() for p in s["spec"]["ports"]
    }
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["port"] in service_ports
        assert endpoint["path"] == "/metrics" and "/metrics" in routes_of("collect", tmp_path)
        token = endpoint["bearerTokenSecret"]
        assert token["key"] in named("Secret", token["name"])["stringData"]


def test_mounted_configmaps_and_secrets_exist_and_the_alerts_file_is_where_the_setting_says():
    config = named("ConfigMap", "runwatch-config")["data"]
    for doc in [*of_kind("Deployment"), *of_kind("Job")]:
        spec = doc["spec"]["template"]["spec"]
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                named("ConfigMap", volume["configMap"]["name"])
            if "secret" in volume:
                named("Secret", volume["secret"]["secretName"])
    (collector,) = [c for d, c in workloads() if c["args"][0] == "collect"]
    mounts = {m["mountPath"] for m in collector["volumeMounts"]}
    assert config["RUNWATCH_ALERTS"] in mounts
    assert str(Path(config["RUNWATCH_REDIS_TLS_CA"]).parent) in mounts


@pytest.mark.parametrize("name", ["collect", "migrate"])
def test_the_commands_the_manifests_run_exist_on_this_branch(name):
    assert name in known_commands()
