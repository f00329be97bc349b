"""Redis for a team: refusal of an open remote Redis, TLS with a CA of its own, least-privilege ACL users.

Servers are real redis-servers on 127.0.0.1 (tests/redis_team.py). The refusal tests name a
non-loopback address that is never connected to: the check runs before anything connects.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from pydantic import SecretStr

import emitter
from collector.cli import main
from collector.errors import ConfigError
from collector.redis_connect import (
    COLLECTOR_ACL_COMMANDS,
    EMITTER_ACL_COMMANDS,
    acl_rule,
    refuse_insecure_redis,
    sync_client,
)
from tests.helpers import ROOT, ThreadedCollector, ThreadedService, wait_for
from tests.redis_team import acl_redis, make_certs, tls_redis

REMOTE = "redis://10.0.0.1:6379/0"  # never connected to: the refusal comes first


# ------------------------------------------------------------------ refusal


@pytest.mark.parametrize("command", ["serve", "collect"])
def test_serve_and_collect_refuse_a_remote_redis_without_a_password_and_say_why(command, tmp_path, monkeypatch):
    monkeypatch.delenv("RUNWATCH_REDIS_PASSWORD", raising=False)
    monkeypatch.delenv("RUNWATCH_INSECURE", raising=False)
    home = tmp_path / "home"
    result = CliRunner().invoke(main, [command, "--home", str(home), "--redis-url", REMOTE])
    assert result.exit_code != 0
    message = " ".join(result.output.split())
    assert "refusing to use Redis at redis://10.0.0.1:6379/0 without a password" in message
    assert "read every run's events and write fake ones" in message  # why
    assert "--insecure" in message and "ACL" in message  # what to do instead
    assert not home.exists()  # refused before the store was opened, let alone Redis


def test_a_remote_cluster_url_without_a_password_is_refused_too(tmp_path):
    result = CliRunner().invoke(
        main, ["collect", "--home", str(tmp_path), "--redis-url", "rediss+cluster://10.0.0.1:7000"]
    )
    assert result.exit_code != 0 and "without a password" in result.output


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "redis://127.8.9.10:6379/0",
        "redis://localhost:6379/0",
        "redis://[::1]:6379/0",
        "unix:///run/redis.sock",
        "redis://:s3cret@10.0.0.1:6379/0",
        "rediss://collector:s3cret@redis.internal:6380/0",
        "redis://10.0.0.1:6379/0?password=s3cret",
    ],
)
def test_loopback_or_password_protected_redis_is_accepted(url):
    refuse_insecure_redis(url, insecure=False)


def test_a_password_given_apart_from_the_url_or_insecure_lets_a_remote_redis_through():
    refuse_insecure_redis(REMOTE, insecure=False, password="s3cret")
    refuse_insecure_redis(REMOTE, insecure=True)
    with pytest.raises(ConfigError, match="without a password"):
        refuse_insecure_redis("redis://redis.example.internal:6379/0", insecure=False)  # names are not resolved


def test_an_unknown_redis_url_scheme_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["collect", "--home", str(tmp_path), "--redis-url", "http://10.0.0.1:6379"])
    assert result.exit_code != 0
    assert "unsupported Redis URL scheme 'http'" in result.output


# ------------------------------------------------------------------ TLS


def test_the_pipeline_runs_over_tls_with_a_ca_and_client_certificate(tmp_path, monkeypatch, settings, store):
    certs = make_certs(tmp_path / "certs")
    server = tls_redis(tmp_path / "tls-redis", certs, admin_password="admin-pw")
    try:
        url = f"rediss://:admin-pw@127.0.0.1:{server.port}/0"
        tls = {"redis_tls_ca": certs.ca, "redis_tls_cert": certs.client_cert, "redis_tls_key": certs.client_key}
        tls_settings = settings.model_copy(update={"redis_url": url, **tls})
        for name, path in (("CA", certs.ca), ("CERT", certs.client_cert), ("KEY", certs.client_key)):
            monkeypatch.setenv(f"RUNWATCH_REDIS_TLS_{name}", str(path))
        monkeypatch.setenv("RUNWATCH_REDIS_URL", url)
        monkeypatch.setenv("RUNWATCH_PREFIX", settings.prefix)
        monkeypatch.setenv("RUNWATCH_HOME", str(settings.home))

        running = ThreadedCollector(tls_settings, store).start()
        try:
            run = emitter.init("tls", config={"lr": 0.1})
            for step in range(300):
                run.log({"loss": 1.0 / (step + 1)}, step=step)
            run.finish()
            wait_for(lambda: store.series.count_points(run.id) == 300, what="300 points over TLS")
        finally:
            running.stop()
        assert store.runs.get(run.id).status == "finished"
        assert not list((settings.home / "spool").rglob("*.seg"))  # nothing left behind in the spool
    finally:
        server.kill()


def test_tls_without_the_ca_or_over_plain_tcp_is_refused_by_the_client_or_server(tmp_path, settings):
    certs = make_certs(tmp_path / "certs")
    server = tls_redis(tmp_path / "tls-redis", certs, admin_password="admin-pw")
    try:
        url = f"rediss://:admin-pw@127.0.0.1:{server.port}/0"
        no_ca = sync_client(url, settings.model_copy(update={"redis_url": url}), socket_connect_timeout=2)
        with pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            no_ca.ping()
        plain = redis.Redis.from_url(url.replace("rediss://", "redis://"), socket_connect_timeout=2, socket_timeout=2)
        with pytest.raises(redis.RedisError):
            plain.ping()
    finally:
        server.kill()


# ------------------------------------------------------------------ ACL


def acl_users(prefix: str) -> list[str]:
    """The users docs/deploy.md tells an operator to create, for this test's key prefix."""
    return [
        f"user runwatch-collector on >collector-pw {acl_rule(prefix, COLLECTOR_ACL_COMMANDS)}",
        f"user runwatch-emitter on >emitter-pw {acl_rule(prefix, EMITTER_ACL_COMMANDS)}",
    ]


def test_acl_users_with_only_the_documented_commands_run_the_pipeline(tmp_path, monkeypatch, settings, store):
    from alerts import parse_rules

    server = acl_redis(tmp_path / "acl-redis", acl_users(settings.prefix), admin_password="admin-pw")
    try:
        server.admin.acl_log_reset()
        collector_settings = settings.model_copy(
            update={
                "redis_url": f"redis://127.0.0.1:{server.port}/0",  # credentials from the settings, not the URL
                "redis_username": "runwatch-collector",
                "redis_password": SecretStr("collector-pw"),
            }
        )
        monkeypatch.setenv("RUNWATCH_REDIS_URL", f"redis://runwatch-emitter:emitter-pw@127.0.0.1:{server.port}/0")
        monkeypatch.setenv("RUNWATCH_PREFIX", settings.prefix)
        monkeypatch.setenv("RUNWATCH_HOME", str(settings.home))
        # the whole service: consumer, trimming, alerting and its live alert stream, the exporter's stream stats
        service = ThreadedService(
            collector_settings, parse_rules("rules: [{name: loss-nan, metric: loss, condition: nonfinite}]")
        ).start()
        try:
            run = emitter.init("acl", config={"lr": 0.1})
            for step in range(200):
                run.log({"loss": float(step)}, step=step)
            run.log({"loss": float("nan")}, step=200)
            run.finish()
            wait_for(lambda: service.store.series.count_points(run.id) == 201, what="201 points through ACL users")
            wait_for(lambda: server.admin.xlen(settings.keys.alerts) == 1, what="the NaN alert on the live stream")
            exporter = service.service.exporter
            assert exporter is not None
            wait_for(lambda: exporter.stream_stats, what="the exporter's lag/pending snapshot")
            assert exporter.stats_errors == 0
        finally:
            service.stop()
        assert store.runs.get(run.id).status == "finished"
        assert server.admin.acl_log() == []  # no command of either user was denied, not even a swallowed one
    finally:
        server.kill()


def test_the_emitter_user_cannot_read_the_streams_or_touch_other_keys(tmp_path, settings):
    server = acl_redis(tmp_path / "acl-redis", acl_users(settings.prefix), admin_password="admin-pw")
    try:
        client = redis.Redis.from_url(f"redis://runwatch-emitter:emitter-pw@127.0.0.1:{server.port}/0")
        stream = settings.keys.stream(0)
        client.xadd(stream, {"x": "1"})
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.xrange(stream)
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.xadd("someone-else:stream", {"x": "1"})
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.flushall()
    finally:
        server.kill()


def test_docs_deploy_lists_exactly_the_acl_the_tests_use():
    docs = (ROOT / "docs" / "deploy.md").read_text()
    assert f"user runwatch-collector on >COLLECTOR_PASSWORD {acl_rule('runwatch', COLLECTOR_ACL_COMMANDS)}" in docs
    assert f"user runwatch-emitter on >EMITTER_PASSWORD {acl_rule('runwatch', EMITTER_ACL_COMMANDS)}" in docs


def test_settings_reach_the_emitter_names_the_same_variables(tmp_path: Path):
    from collector.settings import Settings
    from emitter._redis_connect import EMITTER_REDIS_ENV

    fields = {f"RUNWATCH_{name.upper()}" for name in Settings.model_fields}
    assert set(EMITTER_REDIS_ENV) <= fields
