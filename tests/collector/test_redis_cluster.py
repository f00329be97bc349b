"""A real 3-node Redis Cluster on 127.0.0.1: the pipeline loses nothing, live pushes arrive, no CROSSSLOT.

The collector and the emitter run as the least-privilege ACL users of docs/deploy.md, so a
command outside those lists (or one refused as cross-slot) shows up as a failure or in ACL LOG.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from redis.cluster import RedisCluster
from websockets.sync.client import connect

import emitter
from alerts import parse_rules
from collector.redis_connect import COLLECTOR_ACL_COMMANDS, EMITTER_ACL_COMMANDS, acl_rule, sync_client
from emitter.events import GROUP, shard_for
from tests.helpers import ThreadedCollector, ThreadedService, free_port, wait_for
from tests.prom import scrape, value
from tests.redis_team import RedisCluster3, make_certs

SHARDS = 12


@pytest.fixture
def cluster(tmp_path: Path, prefix: str) -> Iterator[RedisCluster3]:
    users = [
        f"user runwatch-collector on >collector-pw {acl_rule(prefix, COLLECTOR_ACL_COMMANDS)}",
        f"user runwatch-emitter on >emitter-pw {acl_rule(prefix, EMITTER_ACL_COMMANDS)}",
    ]
    made = RedisCluster3(tmp_path / "cluster", password="admin-pw", users=users)
    yield made
    made.kill()


@pytest.fixture
def cluster_settings(settings: Any, cluster: RedisCluster3, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The collector as the ACL collector user on the cluster; emitters (this process) as the emitter user."""
    port = cluster.ports[0]
    monkeypatch.setenv("RUNWATCH_REDIS_URL", f"redis+cluster://runwatch-emitter:emitter-pw@127.0.0.1:{port}")
    monkeypatch.setenv("RUNWATCH_PREFIX", settings.prefix)
    monkeypatch.setenv("RUNWATCH_HOME", str(settings.home))
    monkeypatch.setenv("RUNWATCH_SHARDS", str(SHARDS))
    return settings.model_copy(
        update={
            "redis_url": f"redis://127.0.0.1:{port}/0",
            "redis_cluster": True,  # the flag instead of a redis+cluster:// URL
            "redis_username": "runwatch-collector",
            "redis_password": SecretStr("collector-pw"),
            "shards": SHARDS,
            "port": free_port(),
        }
    )


def admin(cluster: RedisCluster3) -> RedisCluster:
    return RedisCluster(host="127.0.0.1", port=cluster.ports[0], password="admin-pw")


def assert_no_command_was_denied(cluster: RedisCluster3) -> None:
    for node in cluster.nodes:
        assert node.admin.acl_log() == [], f"node {node.port} denied a command"


def test_the_pipeline_on_a_redis_cluster_stores_every_point_of_runs_on_every_node(cluster, cluster_settings, store):
    service = ThreadedService(cluster_settings, parse_rules("rules: [{name: nan, metric: loss, condition: nonfinite}]"))
    service.start()
    runs = []
    try:
        for index in range(9):
            run = emitter.init("cluster", name=f"run-{index}")
            for step in range(400):
                run.log({"loss": 1.0 / (step + 1), "acc": step / 400}, step=step)
            if index == 0:
                run.log({"loss": float("nan")}, step=400)
            run.finish()
            runs.append(run)
        poisoned = admin(cluster)  # a malformed entry on a shard: dead-lettered (its own key) and acked (its slot)
        poisoned.xadd(
            cluster_settings.keys.stream(shard_for(runs[0].id, SHARDS)), {"v": "1", "run": "r-bad", "b": b"x"}
        )
        poisoned.close()
        for index, run in enumerate(runs):
            expected = 800 + (1 if index == 0 else 0)
            wait_for(lambda: store.series.count_points(run.id) == expected, what=f"all points of {run.id}")  # noqa: B023
            assert store.runs.get(run.id).status == "finished"
        wait_for(lambda: store.dead_letters.count() == 1, what="the malformed entry dead-lettered")
        exporter = service.service.exporter
        assert exporter is not None
        wait_for(lambda: exporter.stream_stats, what="lag/pending read from every shard")
        assert exporter.stats_errors == 0
    finally:
        service.stop()

    client = admin(cluster)
    try:
        streams = {cluster_settings.keys.stream(shard_for(run.id, SHARDS)) for run in runs}
        nodes = {client.get_node_from_key(stream).port for stream in streams}
        assert len(nodes) >= 2, "the runs' shards should spread over the cluster's nodes"
        for stream in cluster_settings.keys.streams(SHARDS):
            if client.exists(stream):
                assert client.xpending(stream, GROUP)["pending"] == 0, f"{stream} kept pending entries"
        for run in runs:  # every watermark reached the emitter: its spool is empty
            shard = shard_for(run.id, SHARDS)
            assert client.get(cluster_settings.keys.committed(shard, run.id, run.writer)) is not None
        assert client.xlen(cluster_settings.keys.alerts) >= 1  # the NaN alert, published on the cluster
        assert client.xlen(cluster_settings.keys.dead_letters) == 1
    finally:
        client.close()
    assert not list((cluster_settings.home / "spool").rglob("*.seg"))
    assert_no_command_was_denied(cluster)


def test_a_live_websocket_gets_points_pushed_from_a_redis_cluster(cluster, cluster_settings):
    service = ThreadedService(cluster_settings, with_api=True).start()
    try:
        url = f"http://127.0.0.1:{cluster_settings.port}"
        wait_for(lambda: _ready(url), what="the API on the cluster to be ready")
        run = emitter.init("cluster-live")
        with connect(f"ws://127.0.0.1:{cluster_settings.port}/api/v1/live") as ws:
            ws.send(json.dumps({"runs": [run.id]}))
            exporter = service.service.exporter
            assert exporter is not None
            wait_for(lambda: value(scrape(exporter), "runwatch_websocket_clients") == 1, what="the socket subscribed")
            seen: list[int] = []
            for step in range(5):
                run.log({"loss": step / 10}, step=step)
                run.flush()
                while step not in seen:
                    frame = json.loads(ws.recv(timeout=15))
                    if frame["type"] == "frame":
                        seen += [s for series in frame["series"] if series["key"] == "loss" for s in series["steps"]]
            assert seen == [0, 1, 2, 3, 4]
        run.finish()
    finally:
        service.stop()
    assert_no_command_was_denied(cluster)


def _ready(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_emitter_reads_watermarks_of_several_shards_without_crossslot(cluster, cluster_settings):
    from emitter._unconfirmed import committed_seqs

    client = sync_client(f"redis+cluster://runwatch-emitter:emitter-pw@127.0.0.1:{cluster.ports[0]}", cluster_settings)
    writer = admin(cluster)
    keys = cluster_settings.keys
    pairs = [(f"run-{i}", "w1") for i in range(20)]  # runs on every shard
    for run_id, writer_id in pairs[:10]:
        writer.set(keys.committed(shard_for(run_id, SHARDS), run_id, writer_id), 7)
    marks = committed_seqs(client, keys, SHARDS, pairs)
    assert [marks[pair] for pair in pairs] == [7] * 10 + [-1] * 10
    client.close()
    writer.close()
    assert_no_command_was_denied(cluster)


def test_the_pipeline_on_a_tls_redis_cluster_with_client_certificates(tmp_path, settings, store, monkeypatch):
    certs = make_certs(tmp_path / "certs")
    made = RedisCluster3(tmp_path / "tls-cluster", password="admin-pw", certs=certs)
    try:
        files = {"CA": certs.ca, "CERT": certs.client_cert, "KEY": certs.client_key}
        for name, path in files.items():
            monkeypatch.setenv(f"RUNWATCH_REDIS_TLS_{name}", str(path))
        monkeypatch.setenv("RUNWATCH_REDIS_URL", made.url)  # rediss+cluster://:admin-pw@127.0.0.1:PORT/0
        monkeypatch.setenv("RUNWATCH_PREFIX", settings.prefix)
        monkeypatch.setenv("RUNWATCH_HOME", str(settings.home))
        monkeypatch.setenv("RUNWATCH_SHARDS", str(SHARDS))
        tls_settings = settings.model_copy(
            update={
                "redis_url": made.url,
                "shards": SHARDS,
                "redis_tls_ca": certs.ca,
                "redis_tls_cert": certs.client_cert,
                "redis_tls_key": certs.client_key,
            }
        )
        running = ThreadedCollector(tls_settings, store).start()
        try:
            runs = []
            for index in range(4):
                run = emitter.init("tls-cluster", name=f"run-{index}")
                for step in range(250):
                    run.log({"loss": step / 250}, step=step)
                run.finish()
                runs.append(run)
            for run in runs:
                wait_for(lambda: store.series.count_points(run.id) == 250, what=f"{run.id} over TLS")  # noqa: B023
        finally:
            running.stop()
        assert not list((settings.home / "spool").rglob("*.seg"))
    finally:
        made.kill()
