"""Fixtures of the artifact tests: both blob backends, a real S3-compatible server, the API served for real.

The S3 backend runs against moto's standalone server on 127.0.0.1 (a real HTTP S3
endpoint, never a mock object), started once per session; each test gets a bucket
of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.api.server import ServerThread
from tests.helpers import free_port, need_binary, wait_for

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "runwatch-test",
    "AWS_SECRET_ACCESS_KEY": "runwatch-test",
    "AWS_DEFAULT_REGION": "us-east-1",
}
BACKENDS = ["local", "s3"]


@dataclass
class MotoServer:
    url: str
    process: subprocess.Popen[bytes]

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1", **_keys())

    def new_bucket(self) -> str:
        name = f"rw-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name


def _keys() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    }


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto's standalone S3 server (``pip install "moto[server]"``) on a free port of 127.0.0.1."""
    binary = need_binary("moto_server", str(Path(sys.executable).parent / "moto_server"), package="moto[server] (pip)")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [binary, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out, env={**os.environ, **AWS_ENV}
        )
    server = MotoServer(f"http://127.0.0.1:{port}", process)

    def answers() -> bool:
        try:
            server.client().list_buckets()
            return True
        except Exception:
            return False

    wait_for(answers, timeout=30, what="moto_server to answer")
    yield server
    process.terminate()
    process.wait(10)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, home: Path) -> dict[str, Any]:
    """Settings overrides naming one blob backend: the local directory, or a fresh bucket on moto."""
    if request.param == "local":
        return {"artifacts_url": (home / "artifacts").resolve().as_uri()}
    moto = request.getfixturevalue("moto_server")
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    return {"artifacts_url": f"s3://{moto.new_bucket()}/runwatch", "s3_endpoint_url": moto.url}


@pytest.fixture
def artifact_settings(settings: Any, backend: dict[str, Any]) -> Any:
    return settings.model_copy(update=backend)


@pytest.fixture
def blobs(artifact_settings: Any) -> Iterator[Any]:
    from collector.artifacts import open_blob_store

    store = open_blob_store(artifact_settings)
    yield store
    store.close()


@dataclass
class Api:
    """The app served by uvicorn over the test's store and blob store."""

    server: ServerThread
    settings: Any
    store: Any
    blobs: Any

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def serve_api(artifact_settings: Any, store: Any, blobs: Any) -> Iterator[Callable[..., Api]]:
    """``serve_api(**overrides)``: the app served for real (auth, limits and the like as overrides)."""
    from collector.api.app import create_app

    servers: list[ServerThread] = []

    def start(**overrides: Any) -> Api:
        configured = artifact_settings.model_copy(update=overrides)
        app = create_app(configured, redis=aioredis.from_url(configured.redis_url), store=store, blobs=blobs)
        server = ServerThread(app).start()
        servers.append(server)
        return Api(server, configured, store, blobs)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def api(serve_api: Callable[..., Api]) -> Api:
    return serve_api()


@pytest.fixture
def artifact_env(emitter_env: dict[str, str], api: Api, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The emitter's environment, pointed at the served API (also applied to this process)."""
    monkeypatch.setenv("RUNWATCH_URL", api.url)
    return {**emitter_env, "RUNWATCH_URL": api.url, **AWS_ENV}


def nothing_written(api_or_blobs: Any, sha256: str | None = None) -> list[str]:
    """What an aborted upload may have left: blobs under a final name, partial files, incomplete uploads."""
    blobs = getattr(api_or_blobs, "blobs", api_or_blobs)
    left = []
    if hasattr(blobs, "temp_files"):
        left += [str(p) for p in blobs.temp_files()]
        left += [str(p) for p in (blobs.root / "blobs").rglob("*") if p.is_file()]
    else:
        left += blobs.incomplete_uploads()
        listed = blobs.client.list_objects_v2(Bucket=blobs.bucket)
        left += [item["Key"] for item in listed.get("Contents", [])]
    if sha256 is not None and blobs.has(sha256):
        left.append(f"blob {sha256}")
    return left
