"""``run.use_dataset``: a dataset stored in runwatch joins the artifact lineage; any other URI is a param."""

from __future__ import annotations

from pathlib import Path

import httpx

import emitter
from tests.helpers import wait_for


def test_a_dataset_stored_as_an_artifact_is_recorded_in_the_lineage(artifact_env, collector, store, api, tmp_path):
    folder = tmp_path / "imagenet-mini"
    folder.mkdir()
    (folder / "train.csv").write_text("x,y\n1,2\n")
    (folder / "val.csv").write_text("x,y\n3,4\n")
    producer = emitter.init(project="vision", name="curator")
    handle = producer.log_artifact(folder, name="imagenet-mini", type="dataset")
    assert handle.wait(60), handle.error
    producer.finish()

    consumer = emitter.init(project="vision", name="trainer")
    local = consumer.use_dataset("runwatch:vision/imagenet-mini:v1")
    assert (Path(local) / "train.csv").read_text() == "x,y\n1,2\n"
    s3 = consumer.use_dataset("s3://datasets/imagenet/", version="2026-11")
    assert s3 == "s3://datasets/imagenet/"
    consumer.finish()

    wait_for(lambda: len(store.artifacts.used_by(consumer.id)) == 1, what="the dataset's use")
    lineage = httpx.get(f"{api.url}/api/v1/runs/{consumer.id}/lineage").json()
    [used] = lineage["consumed"]
    assert (used["name"], used["type"], used["version"]) == ("imagenet-mini", "dataset", 1)
    assert used["producer"]["name"] == "curator"
    run = wait_for(lambda: (r := store.runs.get(consumer.id)) and "dataset/imagenet" in r.params and r)
    assert run.params["dataset/imagenet"] == {"uri": "s3://datasets/imagenet/", "version": "2026-11"}
