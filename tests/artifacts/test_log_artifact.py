"""log_artifact → upload → event → version, end to end against real Redis, collector, API and blob store."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx

import emitter
from tests.helpers import wait_for


def _versions(store, run_id):
    return store.artifacts.for_run(run_id)


def test_a_file_logged_is_stored_versioned_and_downloadable(artifact_env, collector, store, api, tmp_path):
    model = tmp_path / "model.pt"
    model.write_bytes(os.urandom(300_000))
    run = emitter.init(project="resnet", name="producer")
    handle = run.log_artifact(model, name="model", type="model", aliases=["best"], metadata={"epoch": 3})
    assert handle.wait(60), handle.error
    assert handle.version == 1
    run.finish()
    [version] = _versions(store, run.id)
    assert (version.name, version.version, version.type, version.aliases) == ("model", 1, "model", ["best"])
    assert version.metadata == {"epoch": 3}
    body = httpx.get(f"{api.url}/api/v1/runs/{run.id}/artifacts/model/model.pt")
    assert body.status_code == 200 and body.content == model.read_bytes()
    assert hashlib.sha256(body.content).hexdigest() == version.digest
