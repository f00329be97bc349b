"""The W&B-shaped client on the artifact store: ``wandb.save``, ``log_artifact(Artifact)``, ``wandb.Image`` values."""

from __future__ import annotations

import warnings

import httpx
import numpy as np
import pytest

import emitter as wandb
from tests.helpers import wait_for


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_save_artifacts_and_logged_images_reach_the_artifact_store(artifact_env, collector, store, api, tmp_path):
    checkpoints = tmp_path / "ckpt"
    checkpoints.mkdir()
    (checkpoints / "epoch-1.pt").write_bytes(b"weights 1")
    (checkpoints / "epoch-2.pt").write_bytes(b"weights 2")
    (tmp_path / "vocab.txt").write_text("a\nb\n")
    run = wandb.init(project="wandb-artifacts")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        wandb.log({"samples": [wandb.Image(np.zeros((4, 4, 3), dtype=np.uint8), caption="black")], "loss": 1.0})
    assert [str(w.message) for w in said if w.category is wandb.UnsupportedWarning] == [
        "runwatch: Image captions, modes, boxes and masks are not stored; the image is"
    ]
    saved = wandb.save(str(checkpoints / "*.pt"), base_path=str(tmp_path), policy="now")
    bundle = wandb.Artifact("tokenizer", type="dataset", description="the vocabulary", metadata={"size": 2})
    bundle.add_file(tmp_path / "vocab.txt")
    bundle.add_dir(checkpoints, name="with/checkpoints")
    handle = run.log_artifact(bundle, aliases=["latest-good"])
    for each in [*saved, handle]:
        assert each.wait(60), each.error
    assert wandb.run is run
    with open(f"{run.dir}/notes.txt", "w") as notes:  # W&B's run.dir: stored when the run ends
        notes.write("converged")
    assert run.url == f"{api.url}/runs/{run.id}"
    wandb.finish()

    names = {"ckpt/epoch-1.pt", "ckpt/epoch-2.pt", "tokenizer", "samples", "files"}
    wait_for(lambda: {version.name for version in store.artifacts.for_run(run.id)} == names, what="every artifact")
    stored = {version.name: version for version in store.artifacts.for_run(run.id)}
    assert stored["samples"].type == "image"
    tokenizer = stored["tokenizer"]
    assert (tokenizer.type, tokenizer.aliases) == ("dataset", ["latest-good"])
    assert tokenizer.metadata == {"size": 2, "description": "the vocabulary"}
    got = httpx.get(f"{api.url}/api/v1/runs/{run.id}/artifacts/tokenizer/with/checkpoints/epoch-2.pt", timeout=30)
    assert got.content == b"weights 2"
    got = httpx.get(f"{api.url}/api/v1/runs/{run.id}/artifacts/tokenizer/vocab.txt", timeout=30)
    assert got.text == "a\nb\n"
    got = httpx.get(f"{api.url}/api/v1/runs/{run.id}/artifacts/files/notes.txt", timeout=30)
    assert got.text == "converged"
