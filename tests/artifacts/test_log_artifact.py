"""log_artifact → snapshot → upload → event → version, end to end: real Redis, collector, API and blob store."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib

import httpx
import pytest

import emitter
from tests.helpers import ROOT, wait_for

# A training loop in its own process: it logs metrics while a 50 MB file and a directory of
# 100 files are logged, and counts socket calls the training thread makes inside log() and
# log_artifact() (the uploader's thread may use the network; the training thread never).
TRAINING = r"""
import json, os, socket, sys, threading
import emitter

inside = threading.local()
calls = []

def guarded(name):
    original = getattr(socket.socket, name)
    def call(self, *args, **kwargs):
        if getattr(inside, "on", False):
            calls.append(name)
        return original(self, *args, **kwargs)
    setattr(socket.socket, name, call)

for name in ("connect", "connect_ex", "send", "sendall", "recv", "recv_into"):
    guarded(name)

big, folder = sys.argv[1], sys.argv[2]
run = emitter.init("artifacts", name="producer")
handles = []
for step in range(3000):
    inside.on = True
    run.log({"loss": 1.0 / (step + 1)}, step=step)
    if step == 100:
        handles.append(run.log_artifact(big, name="big", type="model"))
    if step == 200:
        handles.append(run.log_artifact(folder, name="dataset", type="dataset"))
    inside.on = False
stored = [h.wait(120) for h in handles]
run.finish()
print(json.dumps({"run_id": run.id, "stored": stored, "versions": [h.version for h in handles], "socket_calls": len(calls)}))
"""


def _download(api, run_id, path):
    response = httpx.get(f"{api.url}/api/v1/runs/{run_id}/artifacts/{path}", timeout=60)
    assert response.status_code == 200, response.text
    return response.content


def test_a_50_mb_file_and_100_files_logged_mid_training_come_back_byte_identical(
    artifact_env, collector, store, api, tmp_path
):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(50 << 20))
    folder = tmp_path / "data"
    contents = {}
    for i in range(100):
        relative = f"part-{i // 10}/shard-{i:03d}.bin"
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        contents[relative] = os.urandom(1000 + i * 37)
        (folder / relative).write_bytes(contents[relative])
    done = subprocess.run(
        [sys.executable, "-c", TRAINING, str(big), str(folder)],
        env=artifact_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["stored"] == [True, True] and report["versions"] == [1, 1]
    assert report["socket_calls"] == 0  # neither log() nor log_artifact() touched the network
    run_id = report["run_id"]
    wait_for(lambda: store.series.count_points(run_id) == 3000, what="every metric point")
    assert _download(api, run_id, "big/big.bin") == big.read_bytes()
    for relative, data in contents.items():
        assert _download(api, run_id, f"dataset/{relative}") == data
    [dataset] = [v for v in store.artifacts.for_run(run_id) if v.name == "dataset"]
    assert len(dataset.files) == 100 and dataset.size == sum(map(len, contents.values()))
    assert not list((tmp_path / "home").glob("spool/artifacts/*/*.json"))  # nothing left staged


def test_the_stored_version_is_the_file_as_it_was_when_the_call_returned(artifact_env, collector, store, api, tmp_path):
    checkpoint = tmp_path / "ckpt.pt"
    first = os.urandom(2 << 20)
    checkpoint.write_bytes(first)
    run = emitter.init(project="resnet")
    handle = run.log_artifact(checkpoint, name="ckpt")
    with open(checkpoint, "r+b") as fh:  # the next epoch overwrites it in place, at once
        fh.write(os.urandom(2 << 20))
    assert handle.wait(60), handle.error
    run.finish()
    assert _download(api, run.id, "ckpt/ckpt.pt") == first


def test_use_artifact_by_version_and_alias_and_the_lineage_shows_producer_and_consumer(
    artifact_env, collector, store, api, tmp_path
):
    weights = tmp_path / "weights.bin"
    producer = emitter.init(project="vision", name="trainer")
    versions = []
    for epoch in range(3):
        weights.write_bytes(f"epoch {epoch}".encode() * 1000)
        aliases = ["best"] if epoch == 1 else []
        handle = producer.log_artifact(weights, name="model", type="model", aliases=aliases)
        assert handle.wait(60), handle.error
        versions.append(handle.version)
    producer.finish()
    assert versions == [1, 2, 3]

    consumer = emitter.init(project="vision", name="evaluator")
    by_alias = consumer.use_artifact("model", "best")
    assert by_alias.read_bytes() == b"epoch 1" * 1000
    by_number = consumer.use_artifact("model", 1)
    assert by_number.read_bytes() == b"epoch 0" * 1000
    latest = consumer.use_artifact("model")
    assert latest.read_bytes() == b"epoch 2" * 1000
    assert latest.parent.parent.parent.parent.parent.name == "cache"
    assert (
        latest.stat().st_mode & 0o222 == 0
    )  # cached files are read-only: editing one cannot corrupt the cache quietly
    consumer.finish()
    wait_for(lambda: len(store.artifacts.used_by(consumer.id)) == 3, what="the three uses")

    lineage = httpx.get(f"{api.url}/api/v1/runs/{consumer.id}/lineage").json()
    assert sorted(item["version"] for item in lineage["consumed"]) == [1, 2, 3]
    assert {item["producer"]["name"] for item in lineage["consumed"]} == {"trainer"}
    produced = httpx.get(f"{api.url}/api/v1/runs/{producer.id}/lineage").json()["produced"]
    assert [item["version"] for item in produced] == [1, 2, 3]
    assert all(item["consumers"][0]["name"] == "evaluator" for item in produced)
    assert produced[1]["aliases"] == ["best"]


def test_a_directory_artifact_is_used_as_a_directory(artifact_env, collector, store, api, tmp_path):
    folder = tmp_path / "tokenizer"
    (folder / "sub").mkdir(parents=True)
    (folder / "vocab.json").write_text('{"a": 1}')
    (folder / "sub" / "merges.txt").write_text("a b")
    run = emitter.init(project="nlp")
    assert run.log_artifact(folder, type="dataset").wait(60)
    used = run.use_artifact("tokenizer")
    assert (used / "vocab.json").read_text() == '{"a": 1}' and (used / "sub" / "merges.txt").read_text() == "a b"
    run.finish()


def _png_pixels(data: bytes) -> tuple[int, int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height, depth, color = struct.unpack(">IIBB", data[16:26])
    return width, height, color


def test_log_image_stores_arrays_and_bytes_as_image_artifacts_shown_inline(artifact_env, collector, store, api):
    import numpy as np

    run = emitter.init(project="gan")
    gradient = np.linspace(0.0, 1.0, 64 * 48 * 3).reshape(48, 64, 3)
    first = run.log_image("samples/generated", gradient, step=10)
    grey = run.log_image("mask", np.zeros((8, 8), dtype=np.uint8))
    assert first.wait(60) and grey.wait(60)
    with pytest.raises(ValueError, match="bytes must be an encoded"):
        run.log_image("bad", b"not an image")
    with pytest.raises(TypeError, match="log_image takes"):
        run.log_image("bad", 42)
    run.finish()
    [sample, mask] = store.artifacts.for_run(run.id)
    assert (sample.name, sample.type, sample.metadata) == ("samples/generated", "image", {"step": 10})
    assert [f.path for f in sample.files] == ["generated_10.png"]
    response = httpx.get(f"{api.url}/api/v1/runs/{run.id}/artifacts/samples/generated/generated_10.png")
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-disposition"].startswith("inline")
    assert _png_pixels(response.content) == (64, 48, 2)
    raw = zlib.decompress(response.content[41:-12])  # IDAT of our one-chunk PNG
    assert len(raw) == 48 * (1 + 64 * 3)
    assert mask.files[0].path == "mask.png"


def test_bad_arguments_raise_at_the_call_and_stage_nothing(artifact_env, tmp_path):
    run = emitter.init(project="p")
    (tmp_path / "f").write_text("x")
    outside = tmp_path / "secret"
    outside.write_text("not yours")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "ok.txt").write_text("ok")
    (folder / "escape").symlink_to(outside)
    cases = [
        (lambda: run.log_artifact(tmp_path / "missing"), FileNotFoundError),
        (lambda: run.log_artifact(tmp_path / "f", name="../x"), ValueError),
        (lambda: run.log_artifact(tmp_path / "f", type="no spaces"), ValueError),
        (lambda: run.log_artifact(tmp_path / "f", aliases=["latest"]), ValueError),
        (lambda: run.log_artifact(tmp_path / "f", aliases="best"), TypeError),
        (lambda: run.log_artifact(folder), ValueError),  # a symlink leading outside the directory
    ]
    for call, error in cases:
        with pytest.raises(error):
            call()
    assert not list((tmp_path / "home").glob("spool/artifacts/*/*.json"))
    run.finish()


def test_a_uri_is_recorded_as_a_reference_and_never_listed_as_downloadable(artifact_env, collector, store, api):
    run = emitter.init(project="p")
    handle = run.log_artifact("s3://bucket/models/model.pt")
    assert handle.wait(0) and handle.version is None
    run.finish()
    wait_for(lambda: store.runs.detail(run.id) and store.runs.detail(run.id)["artifacts"], what="the reference")
    [reference] = store.runs.detail(run.id)["artifacts"]
    assert reference["uri"] == "s3://bucket/models/model.pt" and reference["stored"] is False
    assert store.artifacts.for_run(run.id) == []
