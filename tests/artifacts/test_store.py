"""The collector applies artifact events: versions, aliases and their moves, uses, rejections, idempotency."""

from __future__ import annotations

import hashlib
import time

import pytest

from emitter.events import Batch, Event

pytestmark = pytest.mark.every_backend

A, B = b"a" * 10, b"b" * 20
SHA_A, SHA_B = hashlib.sha256(A).hexdigest(), hashlib.sha256(B).hexdigest()


def _output(name, files, **extra):
    return {"name": name, "uri": f"runwatch:{name}", "files": files, **extra}


def _file(path, data):
    return {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def test_outputs_become_numbered_versions_and_aliases_move_with_a_record(store, fake_run):
    store.artifacts.register_blob(SHA_A, len(A), 1.0)
    store.artifacts.register_blob(SHA_B, len(B), 1.0)
    run = fake_run("cifar", name="producer")
    run.emit("artifact", _output("model", [_file("m.bin", A)], aliases=["best"], type="model"))
    run.emit("artifact", _output("model", [_file("m.bin", B)], aliases=["best", "prod"], type="model"))
    v1, v2 = store.artifacts.for_run(run.id)
    assert (v1.version, v1.aliases, v2.version, v2.aliases) == (1, [], 2, ["best", "prod"])
    assert store.artifacts.get("cifar", "model", "best").version == 2
    assert store.artifacts.get("cifar", "model", "latest").version == 2
    assert store.artifacts.get("cifar", "model", "v1").digest == SHA_A
    assert store.artifacts.get("cifar", "model", "1").digest == SHA_A
    assert store.artifacts.get("cifar", "model", "nope") is None
    moves = store.db.read("SELECT alias, from_version_id, to_version_id FROM artifact_alias_moves ORDER BY id")
    assert moves == [("best", None, v1.id), ("best", v1.id, v2.id), ("prod", None, v2.id)]


def test_a_redelivered_event_creates_no_second_version(store, fake_run):
    store.artifacts.register_blob(SHA_A, len(A), 1.0)
    run = fake_run("cifar")
    event = Event(run.id, "artifact-writer", 0, time.time(), "artifact", _output("model", [_file("m.bin", A)]))
    for _ in range(3):
        store.write([Batch(run.id, "artifact-writer", [event])], [], time.time())
    assert len(store.artifacts.for_run(run.id)) == 1


def test_an_output_whose_bytes_are_not_stored_is_rejected_with_the_reason_and_never_listed(store, fake_run):
    store.artifacts.register_blob(SHA_A, len(A), 1.0)
    run = fake_run("cifar")
    run.emit("artifact", _output("never-uploaded", [_file("x", B)]))
    run.emit("artifact", _output("wrong-size", [{"path": "x", "sha256": SHA_A, "size": 99}]))
    run.emit("artifact", _output("bad-path", [{**_file("../x", A)}]))
    run.emit("artifact", _output("../escape", [_file("x", A)]))
    run.emit("artifact", _output("no-files", []))
    run.emit("artifact", _output("twice", [_file("x", A), _file("x", A)]))
    run.emit("artifact", _output("bad-alias", [_file("x", A)], aliases=["latest"]))
    run.emit("artifact", _output("bad-digest", [_file("x", A)], sha256="0" * 64))
    assert store.artifacts.for_run(run.id) == []
    reasons = {r.name: r.reason for r in store.artifacts.rejected(run.id)}
    assert "never uploaded" in reasons["never-uploaded"]
    assert "99 bytes" in reasons["wrong-size"]
    assert "'..'" in reasons["bad-path"] and "'..'" in reasons["../escape"]
    assert "at least one file" in reasons["no-files"]
    assert "twice" in reasons["twice"]
    assert "reserved" in reasons["bad-alias"]
    assert "does not match" in reasons["bad-digest"]
    detail = store.runs.detail(run.id)
    assert detail["artifacts"] == [] and len(detail["artifacts_rejected"]) == 8


def test_inputs_record_lineage_once_and_an_unknown_version_is_rejected(store, fake_run):
    store.artifacts.register_blob(SHA_A, len(A), 1.0)
    producer = fake_run("cifar", name="producer")
    producer.emit("artifact", _output("data", [_file("d", A)]))
    consumer = fake_run("cifar", name="consumer")
    for _ in range(2):
        consumer.emit("artifact", {"name": "data", "uri": "x", "role": "input", "version": 1})
    consumer.emit("artifact", {"name": "data", "uri": "x", "role": "input", "version": 7})
    [used] = store.artifacts.used_by(consumer.id)
    assert used.producer["name"] == "producer"
    [produced] = store.artifacts.for_run(producer.id)
    assert [c["name"] for c in produced.consumers] == ["consumer"]
    [rejected] = store.artifacts.rejected(consumer.id)
    assert rejected.role == "input" and "no version 7" in rejected.reason
    lineage = store.artifacts.lineage(consumer.id)
    assert lineage["run"]["name"] == "consumer" and lineage["consumed"][0]["producer"]["id"] == producer.id


def test_find_takes_the_longest_name_a_path_starts_with(store, fake_run):
    store.artifacts.register_blob(SHA_A, len(A), 1.0)
    store.artifacts.register_blob(SHA_B, len(B), 1.0)
    run = fake_run("cifar")
    run.emit("artifact", _output("samples", [_file("a/x.png", A)]))
    run.emit("artifact", _output("samples/a", [_file("x.png", B)]))
    version, inner = store.artifacts.find(run.id, "samples/a/x.png")
    assert (version.name, inner) == ("samples/a", "x.png")
    version, inner = store.artifacts.find(run.id, "samples")
    assert (version.name, inner) == ("samples", "")
    assert store.artifacts.find(run.id, "sample") is None
