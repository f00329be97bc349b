"""Nothing logged is lost, nothing is stored twice: the API down, a job that ends first, a server killed mid-upload."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import httpx
import pytest
from click.testing import CliRunner

import emitter
from collector.cli import main
from tests.artifacts.conftest import AWS_ENV, nothing_written
from tests.artifacts.proxy import HoldingProxy
from tests.helpers import ROOT, free_port, wait_for

JOB = """
import sys
import emitter
run = emitter.init("offline-artifacts", name="offline-job")
for step in range(500):
    run.log({"loss": 1.0 / (step + 1)}, step=step)
handle = run.log_artifact(sys.argv[1], name="model", aliases=["best"])
run.finish()
print(run.id, handle.wait(0))
"""


def _job(env, model):
    done = subprocess.run(
        [sys.executable, "-c", JOB, str(model)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    run_id, stored = done.stdout.split()
    return run_id, stored == "True"


def _staged(home):
    """Pending manifests (not the ones kept under failed/)."""
    return sorted(p for p in (home / "spool" / "artifacts").glob("*/*.json") if p.parent.name != "failed")


def test_the_api_down_during_log_artifact_then_runwatch_sync_stores_it_once(
    artifact_env, artifact_settings, collector, store, serve_api, home, tmp_path
):
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(3 << 20))
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the API is down
    run_id, stored = _job({**artifact_env, "RUNWATCH_URL": down, "RUNWATCH_FLUSH_TIMEOUT": "5"}, model)
    assert not stored
    assert len(_staged(home)) == 1, "the job must leave its artifact staged"
    wait_for(lambda: store.series.count_points(run_id) == 500, what="the job's metrics")
    assert store.artifacts.for_run(run_id) == []

    api = serve_api()  # the API comes back
    env = {"RUNWATCH_PREFIX": artifact_settings.prefix, **AWS_ENV}
    args = ["sync", "--home", str(home), "--redis-url", artifact_settings.redis_url, "--url", api.url]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    assert "artifacts: uploaded 1, confirmed 1, still staged 0" in result.output
    [version] = store.artifacts.for_run(run_id)
    assert (version.name, version.version, version.aliases) == ("model", 1, ["best"])
    body = httpx.get(f"{api.url}/api/v1/runs/{run_id}/artifacts/model/model.bin").content
    assert body == model.read_bytes()
    assert _staged(home) == []

    again = CliRunner().invoke(main, args, env=env)
    assert again.exit_code == 0, again.output
    assert len(store.artifacts.for_run(run_id)) == 1  # stored once


def test_artifacts_left_staged_are_delivered_by_the_next_emitter_start(
    artifact_env, collector, store, api, home, tmp_path
):
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights" * 10_000)
    down = f"http://127.0.0.1:{free_port()}"
    run_id, _ = _job({**artifact_env, "RUNWATCH_URL": down, "RUNWATCH_FLUSH_TIMEOUT": "5"}, model)
    assert len(_staged(home)) == 1
    later = emitter.init(project="another")  # a new job on this machine, the API up
    wait_for(lambda: store.artifacts.for_run(run_id), timeout=60, what="the adopted artifact")
    wait_for(lambda: _staged(home) == [], what="the staged copy to go")
    later.finish()
    [version] = store.artifacts.for_run(run_id)
    assert version.digest == hashlib.sha256(model.read_bytes()).hexdigest()


class ServeProcess:
    """``runwatch serve`` (collector and API) as a process of its own, so the test can kill -9 it."""

    def __init__(self, env, port, log):
        self.env = {**env, "RUNWATCH_PORT": str(port)}
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.process = None

    def start(self):
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "collector", "serve"], env=self.env, cwd=str(ROOT), stdout=out, stderr=out
            )

        def healthy():
            try:
                return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, timeout=60, what="runwatch serve to answer")
        return self

    def kill9(self):
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _partial_upload_present(blobs):
    if hasattr(blobs, "temp_files"):
        return any(path.stat().st_size > 0 for path in blobs.temp_files())
    return bool(blobs.incomplete_uploads())


@pytest.mark.slow
def test_the_server_killed_mid_upload_shows_no_partial_artifact_and_the_retry_completes(
    emitter_env, artifact_settings, blobs, home, tmp_path, monkeypatch
):
    from collector.store.sqlite import SQLiteStore

    env = {**emitter_env, **AWS_ENV, "RUNWATCH_ARTIFACTS_URL": artifact_settings.artifacts_url}
    if artifact_settings.s3_endpoint_url:
        env["RUNWATCH_S3_ENDPOINT_URL"] = artifact_settings.s3_endpoint_url
    port = free_port()
    server = ServeProcess(env, port, tmp_path / "serve.log").start()
    proxy = HoldingProxy(port, hold_after=12 << 20)  # the upload stops 12 MB in
    monkeypatch.setenv("RUNWATCH_URL", proxy.url)
    data = os.urandom(40 << 20)
    sha = hashlib.sha256(data).hexdigest()
    model = tmp_path / "model.bin"
    model.write_bytes(data)
    try:
        run = emitter.init(project="crashy")
        handle = run.log_artifact(model, name="model")
        assert proxy.held.wait(60), "the upload never started"
        wait_for(lambda: _partial_upload_present(blobs), timeout=30, what="the server to hold a partial upload")
        server.kill9()
        assert not blobs.has(sha)
        store = SQLiteStore(artifact_settings.sqlite_path)
        assert store.artifacts.blob_size(sha) is None and store.artifacts.versions() == []
        store.close()

        server.start()  # back, on the same port
        proxy.release()
        assert handle.wait(120), handle.error
        assert handle.version == 1
        run.finish()
        store = SQLiteStore(artifact_settings.sqlite_path)
        [version] = store.artifacts.for_run(run.id)
        assert version.digest == sha and store.artifacts.blob_size(sha) == len(data)
        store.close()
        body = httpx.get(f"{server.url}/api/v1/runs/{run.id}/artifacts/model/model.bin", timeout=60).content
        assert body == data
        if hasattr(blobs, "temp_files"):  # the killed server's partial file is not a blob, and never read
            assert [p for p in nothing_written(blobs) if "/blobs/" in p] == [str(blobs.path_of(sha))]
    finally:
        proxy.close()
        server.stop()


def test_a_refused_artifact_fails_its_handle_and_is_kept_aside_with_the_reason(
    artifact_env, serve_api, home, tmp_path, monkeypatch
):
    api = serve_api(artifact_max_bytes=1000)
    monkeypatch.setenv("RUNWATCH_URL", api.url)
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 5000)
    run = emitter.init(project="p")
    handle = run.log_artifact(big)
    assert not handle.wait(30) and handle.error and handle.error.startswith("413")
    run.finish()
    assert _staged(home) == []
    [failed] = (home / "spool" / "artifacts" / "failed").glob("*.json")
    assert "413" in failed.read_text()


def test_cli_lists_and_downloads_a_run_s_artifacts(artifact_env, artifact_settings, collector, store, api, tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"a" * 100)
    (folder / "b.bin").write_bytes(b"b" * 200)
    run = emitter.init(project="cli", name="cli-run")
    assert run.log_artifact(folder, name="ckpt", aliases=["best"]).wait(60)
    run.finish()
    env = {
        "RUNWATCH_ARTIFACTS_URL": artifact_settings.artifacts_url,
        "RUNWATCH_S3_ENDPOINT_URL": artifact_settings.s3_endpoint_url or "",
        **AWS_ENV,
    }
    listed = CliRunner().invoke(main, ["artifacts", "cli-run", "--home", str(artifact_settings.home)], env=env)
    assert listed.exit_code == 0, listed.output
    assert "ckpt" in listed.output and "v1" in listed.output and "best" in listed.output
    assert "ckpt/a.bin" in listed.output
    out = tmp_path / "out"
    whole = CliRunner().invoke(
        main, ["download", "cli-run", "ckpt", "-o", str(out), "--home", str(artifact_settings.home)], env=env
    )
    assert whole.exit_code == 0, whole.output
    assert (out / "a.bin").read_bytes() == b"a" * 100 and (out / "b.bin").read_bytes() == b"b" * 200
    one = CliRunner().invoke(
        main,
        ["download", "cli-run", "ckpt/b.bin", "-o", str(out / "one"), "--home", str(artifact_settings.home)],
        env=env,
    )
    assert one.exit_code == 0 and (out / "one" / "b.bin").read_bytes() == b"b" * 200
    missing = CliRunner().invoke(
        main, ["download", "cli-run", "ckpt/../x", "--home", str(artifact_settings.home)], env=env
    )
    assert missing.exit_code != 0 and "not allowed" in missing.output
