"""Artifact benchmark: upload throughput to both blob backends, and what log_artifact() costs the training thread.

    .venv/bin/python bench/bench_artifacts.py [--mb 256] [--gb 1]

1. Upload throughput (MB/s) of one file to the API's ``PUT /runs/{id}/artifacts/{path}``,
   stored in the local directory and in S3 (moto's server on 127.0.0.1), by the emitter's
   uploader client (hash + HEAD + PUT, as it runs) side by side with a plain
   ``curl -T`` of the same size to the same server (the baseline, same run).
2. The training thread's cost of ``log_artifact()`` (the snapshot) for 1 MB and 1 GB
   files, against a plain ``shutil.copyfile`` of the same file.
3. ``log()``'s cost per call (10 metrics) with nothing else going on and while a file of
   ``--mb`` MB is logged and uploaded in the background.

The API runs in a process of its own (uvicorn), so client and server do not share a GIL.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_pipeline import free_port, start_redis  # noqa: E402

AWS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
API = """
import sys, uvicorn, redis.asyncio as aioredis
from collector.settings import Settings
from collector.store.sqlite import SQLiteStore
from collector.api.app import create_app
settings = Settings()
store = SQLiteStore(settings.sqlite_path)
app = create_app(settings, redis=aioredis.from_url(settings.redis_url or "redis://127.0.0.1:1/0"), store=store)
uvicorn.run(app, host="127.0.0.1", port=settings.port, log_level="warning", lifespan="off")
"""


def wait_http(url: str, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def start_api(home: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    full = {**os.environ, **env, "RUNWATCH_HOME": str(home), "RUNWATCH_PORT": str(port)}
    process = subprocess.Popen([sys.executable, "-c", API], env=full, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/healthz")
    return process, url


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    binary = str(Path(sys.executable).parent / "moto_server")
    process = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, **AWS},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url)
    import boto3

    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="b", aws_secret_access_key="b")
    return process, url


def random_file(path: Path, size: int) -> Path:
    block = os.urandom(1 << 20)
    with open(path, "wb") as out:
        for i in range(size // len(block)):
            out.write(hashlib.sha256(block + i.to_bytes(8, "little")).digest() + block[32:])  # distinct blocks
    return path


def bench_upload(url: str, source: Path, size: int) -> dict[str, float]:
    """The emitter's client (hash, HEAD, PUT) and curl -T, each of a file with content new to the server."""
    from emitter._http import ApiClient
    from emitter._uploader import sha256_of

    api = ApiClient(url)
    ours = source.with_name("ours.bin")
    shutil.copyfile(source, ours)
    with open(ours, "r+b") as fh:
        fh.write(uuid.uuid4().bytes)
    started = time.perf_counter()
    sha = sha256_of(ours)
    hashed = time.perf_counter()
    assert not api.has_blob(sha)
    api.upload("bench", "model/ours.bin", ours, sha, size)
    done = time.perf_counter()
    theirs = source.with_name("curl.bin")
    shutil.copyfile(source, theirs)
    with open(theirs, "r+b") as fh:
        fh.write(uuid.uuid4().bytes)
    curl_sha = sha256_of(theirs)
    curl_started = time.perf_counter()
    subprocess.run(
        ["curl", "-sS", "-f", "-o", "/dev/null", "-T", str(theirs), "-H", f"X-Runwatch-Sha256: {curl_sha}",
         f"{url}/api/v1/runs/bench/artifacts/model/curl.bin"],
        check=True,
    )  # fmt: skip
    curl_done = time.perf_counter()
    mb = size / 1e6
    return {
        "emitter_mb_s": mb / (done - started),
        "emitter_upload_only_mb_s": mb / (done - hashed),
        "client_hash_mb_s": mb / (hashed - started),
        "curl_mb_s": mb / (curl_done - curl_started),
    }


def bench_log_artifact_cost(tmp: Path, sizes: dict[str, int]) -> dict[str, float]:
    import emitter

    os.environ.update(
        {"RUNWATCH_HOME": str(tmp / "cost-home"), "RUNWATCH_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    )
    os.environ["RUNWATCH_URL"] = f"http://127.0.0.1:{free_port()}"  # nobody there: the call must not care
    os.environ["RUNWATCH_FLUSH_TIMEOUT"] = "1"
    figures: dict[str, float] = {}
    run = emitter.init(project="bench")
    for label, size in sizes.items():
        path = random_file(tmp / f"cost-{label}.bin", size)
        baseline = tmp / f"copy-{label}.bin"
        copies = []
        for _ in range(2):  # before and after: the page cache favours neither
            started = time.perf_counter()
            shutil.copyfile(path, baseline)
            copies.append((time.perf_counter() - started) * 1000)
            baseline.unlink()
            if not figures.get(f"log_artifact_{label}_ms"):
                started = time.perf_counter()
                run.log_artifact(path, name=f"cost-{label}")
                figures[f"log_artifact_{label}_ms"] = (time.perf_counter() - started) * 1000
        figures[f"copyfile_{label}_ms"] = min(copies)
        path.unlink()
    run.finish()
    shutil.rmtree(tmp / "cost-home", ignore_errors=True)
    return figures


LOG_COST = r"""
import json, os, statistics, sys, time
import emitter
with_artifact, path = sys.argv[1] == "1", sys.argv[2]
run = emitter.init("bench-log")
values = {f"k{i}": float(i) for i in range(10)}
costs = []  # of the calls after step 1,000 (alone), or while the artifact is on its way
handle = None
for step in range(100_000):
    if with_artifact and step == 1000:
        handle = run.log_artifact(path, name="concurrent")
    started = time.perf_counter_ns()
    run.log(values, step=step)
    cost = time.perf_counter_ns() - started
    if step > 1000 and (handle is None or not handle.done):
        costs.append(cost)
    if step % 50 == 0:
        time.sleep(0.001)  # a training step does other work between log() calls
stored = handle.wait(300) if handle else None
run.finish()
print(json.dumps({"median_us": statistics.median(costs) / 1000, "p99_us": sorted(costs)[int(len(costs) * 0.99)] / 1000,
                  "calls": len(costs), "stored": stored}))
"""


def bench_log_cost(tmp: Path, env: dict[str, str], source: Path, mb: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    for label, flag in (("alone", "0"), ("while_uploading", "1")):
        home = tmp / f"log-{label}"
        done = subprocess.run(
            [sys.executable, "-c", LOG_COST, flag, str(source)],
            env={**os.environ, **env, "RUNWATCH_HOME": str(home)},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        figures[f"log_{label}_median_us"] = result["median_us"]
        figures[f"log_{label}_p99_us"] = result["p99_us"]
        figures[f"log_{label}_calls"] = result["calls"]
        if flag == "1":
            assert result["stored"], "the concurrent artifact was not stored"
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=256, help="file size of the upload benchmark")
    parser.add_argument("--gb", type=float, default=1.0, help="the large log_artifact() cost case")
    args = parser.parse_args()
    size = args.mb << 20
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="rw-bench-artifacts-") as scratch:
        tmp = Path(scratch)
        source = random_file(tmp / "source.bin", size)
        moto, moto_url = start_moto()
        redis_process, redis_url = start_redis(tmp / "redis")
        processes = [moto, redis_process]
        try:
            import boto3

            boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1", **_keys()).create_bucket(Bucket="bench")
            backends = {
                "local": {"RUNWATCH_ARTIFACTS_URL": (tmp / "blobs").as_uri()},
                "s3": {**AWS, "RUNWATCH_ARTIFACTS_URL": "s3://bench/runwatch", "RUNWATCH_S3_ENDPOINT_URL": moto_url},
            }
            urls = {}
            for name, env in backends.items():
                api, urls[name] = start_api(tmp / f"api-{name}", {**env, "RUNWATCH_REDIS_URL": redis_url})
                processes.append(api)
                result = bench_upload(urls[name], source, size)
                for key, value in result.items():
                    figures[f"{name}_{key}"] = value
                print(
                    f"upload {args.mb} MB to {name:5}: emitter {result['emitter_mb_s']:7.1f} MB/s"
                    f" (PUT alone {result['emitter_upload_only_mb_s']:7.1f}, hashing {result['client_hash_mb_s']:6.0f})"
                    f"  curl -T {result['curl_mb_s']:7.1f} MB/s",
                    flush=True,
                )
            service_env = {**os.environ, **backends["local"], "RUNWATCH_HOME": str(tmp / "api-local")}
            collect = subprocess.Popen(
                [sys.executable, "-m", "collector", "collect", "--redis-url", redis_url], env=service_env, cwd=ROOT
            )
            processes.append(collect)
            figures.update(
                bench_log_cost(tmp, {"RUNWATCH_REDIS_URL": redis_url, "RUNWATCH_URL": urls["local"]}, source, args.mb)
            )
            print(
                f"log() per call, 10 metrics: alone median {figures['log_alone_median_us']:.2f} µs"
                f" (p99 {figures['log_alone_p99_us']:.2f}); while {args.mb} MB is hashed and uploaded"
                f" ({figures['log_while_uploading_calls']:.0f} calls) median"
                f" {figures['log_while_uploading_median_us']:.2f} µs (p99 {figures['log_while_uploading_p99_us']:.2f})",
                flush=True,
            )
        finally:
            for process in processes:
                process.terminate()
                process.wait(10)
        source.unlink()
        cost = bench_log_artifact_cost(tmp, {"1MB": 1 << 20, f"{args.gb:g}GB": int(args.gb * (1 << 30))})
        figures.update(cost)
        for label in ("1MB", f"{args.gb:g}GB"):
            print(
                f"log_artifact() {label:>4} on the training thread: {cost[f'log_artifact_{label}_ms']:8.1f} ms"
                f"  (shutil.copyfile alone {cost[f'copyfile_{label}_ms']:8.1f} ms)",
                flush=True,
            )
    print("JSON: " + json.dumps({k: round(v, 3) for k, v in figures.items()}))


def _keys() -> dict[str, str]:
    return {"aws_access_key_id": AWS["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": AWS["AWS_SECRET_ACCESS_KEY"]}


if __name__ == "__main__":
    main()
