"""The service as users run it: `runwatch serve`, the embedded Redis, `runwatch demo`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import redis

import emitter
from collector.embedded_redis import EmbeddedRedis, find_server_binary
from collector.errors import EmbeddedRedisError
from tests.helpers import ROOT, free_port, skip_unless, wait_for
from tests.prom import parse, value

NO_SERVER = "no bundled Valkey on this platform and no redis-server on PATH (.ci/run installs redis-server)"


def test_the_embedded_redis_starts_with_persistence_and_stops(tmp_path):
    skip_unless(find_server_binary(), NO_SERVER)
    server = EmbeddedRedis(tmp_path / "redis", port=free_port())
    url = server.start()
    try:
        client = redis.Redis.from_url(url)
        client.xadd("s", {"a": 1})
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert not server.external
    finally:
        server.stop()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()


def test_the_embedded_redis_is_restarted_when_it_dies(tmp_path):
    skip_unless(find_server_binary(), NO_SERVER)
    server = EmbeddedRedis(tmp_path / "redis", port=free_port())
    url = server.start()
    try:
        redis.Redis.from_url(url).xadd("kept", {"a": 1})
        assert server.process is not None
        server.process.kill()
        server.process.wait()
        assert server.check() is True
        assert redis.Redis.from_url(url).xlen("kept") == 1  # AOF brought it back
    finally:
        server.stop()


def test_the_embedded_redis_has_a_password_of_its_own_kept_in_the_home_only_its_owner_reads(tmp_path):
    skip_unless(find_server_binary(), NO_SERVER)
    server = EmbeddedRedis(tmp_path / "redis", port=free_port())
    url = server.start()
    try:
        with pytest.raises(redis.AuthenticationError):  # no password, no access (redis-py: NOAUTH)
            redis.Redis(port=server.port).ping()
        assert redis.Redis.from_url(url).ping()
        password = (tmp_path / "redis" / "password").read_text().strip()
        assert password in url and (tmp_path / "redis.url").read_text().strip() == url
        for private in (tmp_path / "redis" / "password", tmp_path / "redis.url", tmp_path / "redis" / "redis.conf"):
            assert private.stat().st_mode & 0o777 == 0o600, private
        assert server.process is not None
        assert password not in Path(f"/proc/{server.process.pid}/cmdline").read_text()  # not shown to ps
    finally:
        server.stop()
    again = EmbeddedRedis(tmp_path / "redis", port=server.port)
    assert again.password == password  # the same password across restarts: running jobs keep their URL


def test_a_foreign_redis_on_the_port_is_refused_with_what_to_do(tmp_path, redis_server):
    server = EmbeddedRedis(tmp_path / "redis", port=redis_server.port)
    with pytest.raises(EmbeddedRedisError, match="another Redis already answers .* RUNWATCH_EMBEDDED_REDIS_PORT"):
        server.start()
    assert server.process is None and not (tmp_path / "redis.url").exists()


def test_our_own_redis_left_running_is_reused_not_replaced(tmp_path):
    skip_unless(find_server_binary(), NO_SERVER)
    first = EmbeddedRedis(tmp_path / "redis", port=free_port())
    url = first.start()
    try:
        second = EmbeddedRedis(tmp_path / "redis", port=first.port)
        assert second.start() == url
        assert second.external and second.process is None
    finally:
        first.stop()


def test_an_emitter_finds_the_embedded_redis_of_its_home(tmp_path, monkeypatch):
    from emitter._redis_url import DEFAULT_REDIS_URL, resolve_redis_url

    monkeypatch.delenv("RUNWATCH_REDIS_URL", raising=False)
    assert resolve_redis_url(None, tmp_path) == DEFAULT_REDIS_URL
    (tmp_path / "redis.url").write_text("redis://:pw@127.0.0.1:6391/0\n")
    assert resolve_redis_url(None, tmp_path) == "redis://:pw@127.0.0.1:6391/0"
    monkeypatch.setenv("RUNWATCH_REDIS_URL", "redis://elsewhere:6379/0")
    assert resolve_redis_url(None, tmp_path) == "redis://elsewhere:6379/0"
    assert resolve_redis_url("redis://given:1/0", tmp_path) == "redis://given:1/0"


def test_runwatch_serve_persists_runs_and_answers_health_checks(tmp_path, emitter_env, prefix, home):
    port = free_port()
    env = {**emitter_env, "RUNWATCH_PORT": str(port)}
    serve = subprocess.Popen(
        [sys.executable, "-m", "collector", "serve"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _get(base + "/healthz") == 200, what="serve to answer /healthz")
        assert _get(base + "/readyz") == 200
        run = emitter.init("served")
        run.log({"x": 1.0})
        run.finish()
        from collector.store.sqlite import SQLiteStore

        store = SQLiteStore(home / "runwatch.db")
        wait_for(lambda: store.series.count_points(run.id) == 1, what="the point committed by serve")
        store.close()
    finally:
        serve.send_signal(signal.SIGTERM)
        output, _ = serve.communicate(timeout=30)
    assert serve.returncode == 0, output
    assert "dashboard and API on" in output


def test_runwatch_collect_serves_metrics_and_probes_but_no_api_on_its_metrics_port(tmp_path, emitter_env):
    port = free_port()
    collect = subprocess.Popen(
        [sys.executable, "-m", "collector", "collect", "--metrics-port", str(port)],
        env=emitter_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _get(base + "/healthz") == 200, what="collect to answer /healthz")
        assert _get(base + "/readyz") == 200
        assert _get(base + "/api/v1/runs") == 404, "a collector replica serves no API"
        run = emitter.init("collected", name="replica-run")
        run.log({"val/acc": 0.75}, step=3)
        assert run.flush(20)

        def exported() -> float | None:
            samples = parse(httpx.get(base + "/metrics", timeout=2).text)
            labels = {"project": "collected", "run_id": run.id, "run_name": "replica-run"}
            return value(samples, "runwatch_run_metric", **labels, key="val/acc")

        assert wait_for(exported, what="the training metric on collect's /metrics") == 0.75
        run.finish()
    finally:
        collect.send_signal(signal.SIGTERM)
        output, _ = collect.communicate(timeout=30)
    assert collect.returncode == 0, output
    assert f"/metrics and probes on http://127.0.0.1:{port}" in output


def test_runwatch_collect_refuses_to_serve_metrics_on_a_public_address_without_auth(emitter_env):
    result = subprocess.run(
        [sys.executable, "-m", "collector", "collect", "--metrics-port", "0", "--host", "0.0.0.0"],
        env=emitter_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "auth" in result.stderr.lower()


def _get(url: str) -> int:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return 0


def _demo_env(home: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "RUNWATCH_HOME": str(home),
        "RUNWATCH_EMBEDDED_REDIS_PORT": str(free_port()),
        "RUNWATCH_PORT": str(free_port()),
        "RUNWATCH_PREFIX": "rwtest-demo",
    }
    env.pop("RUNWATCH_REDIS_URL", None)
    return env


@pytest.mark.slow
def test_runwatch_demo_records_a_finished_a_failed_and_a_lost_run_and_alerts_on_the_console(tmp_path):
    skip_unless(find_server_binary(), NO_SERVER)
    home = tmp_path / "demo-home"
    demo = subprocess.Popen(
        [sys.executable, "-m", "collector", "demo", "--duration", "600"],  # stopped below, once it has shown it all
        env=_demo_env(home),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    from collector.store.sqlite import SQLiteStore

    try:
        wait_for(lambda: (home / "runwatch.db").exists(), timeout=60, what="the demo's store")
        store = SQLiteStore(home / "runwatch.db")
        ended = {"demo-healthy": "finished", "demo-diverging": "failed", "demo-killed": "lost"}

        def statuses() -> dict[str, str]:
            return {run.name: run.status for run in store.runs.recent(project="demo")}

        wait_for(lambda: {k: v for k, v in statuses().items() if k in ended} == ended, timeout=120, what=str(ended))
        demo.send_signal(signal.SIGTERM)
        stdout, stderr = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 0, stdout + stderr
    # demo-live never ends by itself: it was still going when the demo stopped, which stopped it
    assert statuses() == {**ended, "demo-live": "killed"}
    live = store.runs.get("demo-live")
    healthy = store.runs.get("demo-healthy")
    assert live is not None and healthy is not None and live.last_step is not None and healthy.last_step is not None
    assert live.metrics["loss"].count > 0
    fired = {record.rule for record in store.alerts.history()}
    assert {"loss-not-finite", "heartbeat-lost", "run-ended-badly", "from-code"} <= fired
    assert "heartbeat-lost" in stdout  # the console channel printed it
    diverging = store.runs.get("demo-diverging")
    assert diverging is not None
    assert math_isnan(diverging.metrics["loss"].last)
    store.close()


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.slow
def test_sigterm_stops_the_demo_its_endless_run_and_the_embedded_redis_it_started(tmp_path):
    skip_unless(find_server_binary(), NO_SERVER)
    env = _demo_env(tmp_path / "demo-home")
    base = f"http://127.0.0.1:{env['RUNWATCH_PORT']}"
    demo = subprocess.Popen(
        [sys.executable, "-m", "collector", "demo"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    redis_pid = 0
    try:
        url_file = tmp_path / "demo-home" / "redis.url"  # where the demo publishes its Redis (with its password)
        wait_for(url_file.exists, what="the embedded Redis' URL")
        client = redis.Redis.from_url(url_file.read_text().strip(), socket_connect_timeout=1)
        redis_pid = wait_for(lambda: _pings(client) and client.info("server")["process_id"], what="the embedded Redis")
        client.close()

        def live_steps() -> int:
            try:
                response = httpx.get(base + "/api/v1/runs", params={"filter": "name = 'demo-live'"}, timeout=5)
            except httpx.HTTPError:
                return 0
            runs = response.json()["runs"] if response.status_code == 200 else []
            return (runs[0]["last_step"] or 0) if runs and runs[0]["status"] == "running" else 0

        wait_for(lambda: _get(base + "/healthz") == 200 and live_steps() > 0, timeout=60, what="demo-live logging")
        assert _alive(redis_pid)
        demo.send_signal(signal.SIGTERM)
        _, stderr = demo.communicate(timeout=60)
        assert not _alive(redis_pid), "the demo left its embedded Redis running"
        assert demo.returncode == 0, stderr  # it stopped as it does on Ctrl-C, not killed by the signal
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        if redis_pid and _alive(redis_pid):
            os.kill(redis_pid, signal.SIGKILL)  # do not leak it into the rest of the run


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def math_isnan(value: float) -> bool:
    return value != value
