"""What TLS, an ACL user and a 3-node Redis Cluster cost the pipeline, against one plain Redis, same run.

    PYTHONPATH=. .venv/bin/python bench/bench_redis_team.py [--runs 4] [--steps 5000] [--keys 10]

For each mode: a private Redis (or cluster) on 127.0.0.1, a consumer in a thread writing a
SQLite store, and ``--runs`` emitter runs logging ``--steps`` steps of ``--keys`` metrics one
after another. Reports end-to-end points/s (first log() to the last point committed) and the
emitter's send rate (points/s accepted by Redis, from first log() to flush()), next to the
plain-Redis baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402

import emitter  # noqa: E402
from collector.redis_connect import COLLECTOR_ACL_COMMANDS, EMITTER_ACL_COMMANDS, acl_rule  # noqa: E402
from collector.settings import Settings  # noqa: E402
from collector.store.sqlite import SQLiteStore  # noqa: E402
from tests.helpers import RedisServer, ThreadedCollector  # noqa: E402
from tests.redis_team import RedisCluster3, acl_redis, make_certs, tls_redis  # noqa: E402

PREFIX = "bench"
Mode = Callable[[Path], AbstractContextManager[tuple[dict[str, Any], dict[str, str]]]]


@contextmanager
def plain(directory: Path) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
    server = RedisServer(directory).start()
    try:
        yield {"redis_url": server.url}, {"RUNWATCH_REDIS_URL": server.url}
    finally:
        server.kill()


@contextmanager
def tls(directory: Path) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
    certs = make_certs(directory / "certs")
    server = tls_redis(directory / "redis", certs, admin_password="pw")
    url = f"rediss://:pw@127.0.0.1:{server.port}/0"
    files = {"redis_tls_ca": certs.ca, "redis_tls_cert": certs.client_cert, "redis_tls_key": certs.client_key}
    env = {"RUNWATCH_REDIS_URL": url, **{f"RUNWATCH_{k.upper()}": str(v) for k, v in files.items()}}
    try:
        yield {"redis_url": url, **files}, env
    finally:
        server.kill()


def _users() -> list[str]:
    return [
        f"user runwatch-collector on >cpw {acl_rule(PREFIX, COLLECTOR_ACL_COMMANDS)}",
        f"user runwatch-emitter on >epw {acl_rule(PREFIX, EMITTER_ACL_COMMANDS)}",
    ]


@contextmanager
def acl(directory: Path) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
    server = acl_redis(directory, _users(), admin_password="pw")
    base = f"127.0.0.1:{server.port}/0"
    try:
        yield (
            {"redis_url": f"redis://runwatch-collector:cpw@{base}"},
            {"RUNWATCH_REDIS_URL": f"redis://runwatch-emitter:epw@{base}"},
        )
    finally:
        server.kill()


@contextmanager
def cluster(directory: Path) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
    made = RedisCluster3(directory, password="pw", users=_users())
    node = f"127.0.0.1:{made.ports[0]}"
    try:
        settings = {"redis_url": f"redis://{node}/0", "redis_cluster": True, "redis_username": "runwatch-collector"}
        settings["redis_password"] = SecretStr("cpw")
        yield settings, {"RUNWATCH_REDIS_URL": f"redis+cluster://runwatch-emitter:epw@{node}"}
    finally:
        made.kill()


MODES: dict[str, Mode] = {"plain": plain, "tls": tls, "acl": acl, "cluster (3 nodes)": cluster}


def measure(name: str, mode: Mode, runs: int, steps: int, keys: int, shards: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="rw-bench-team-") as tmp, mode(Path(tmp) / "redis") as (extra, env):
        home = Path(tmp) / "home"
        settings = Settings(home=home, prefix=PREFIX, shards=shards, block_ms=100, consumer_name="bench", **extra)
        os.environ.update(
            {"RUNWATCH_PREFIX": PREFIX, "RUNWATCH_HOME": str(home), "RUNWATCH_SHARDS": str(shards), **env}
        )
        store = SQLiteStore(settings.sqlite_path)
        consumer = ThreadedCollector(settings, store).start()
        try:
            names = [f"k{i}" for i in range(keys)]
            started = time.perf_counter()
            ids = []
            sent = 0.0
            for index in range(runs):
                run = emitter.init("bench", name=f"{name}-{index}")
                for step in range(steps):
                    run.log({key: step * 0.5 for key in names}, step=step)
                run.flush()
                sent = time.perf_counter() - started
                run.finish()
                ids.append(run.id)
            total = runs * steps * keys
            while sum(store.series.count_points(i) for i in ids) < total:
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
        finally:
            consumer.stop()
            store.close()
            for key in env:
                os.environ.pop(key, None)
        return total / elapsed, total / sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--shards", type=int, default=12)
    args = parser.parse_args()
    total = args.runs * args.steps * args.keys
    print(f"{args.runs} runs x {args.steps} steps x {args.keys} keys = {total:,} points, {args.shards} shards\n")
    print(f"{'mode':<20} {'end-to-end pts/s':>17} {'vs plain':>9} {'emitter send pts/s':>19} {'vs plain':>9}")
    baseline: tuple[float, float] | None = None
    for name, mode in MODES.items():
        e2e, send = measure(name, mode, args.runs, args.steps, args.keys, args.shards)
        baseline = baseline or (e2e, send)
        print(f"{name:<20} {e2e:>17,.0f} {e2e / baseline[0]:>8.2f}x {send:>19,.0f} {send / baseline[1]:>8.2f}x")


if __name__ == "__main__":
    main()
