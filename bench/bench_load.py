"""Many runs at once, a step at a time: sustained ingest, lag and CPU per component, 1-3 collectors.

    .venv/bin/python bench/bench_load.py [--runs 100] [--keys 10] [--rate 10] [--duration 15]
    .venv/bin/python bench/bench_load.py --runs 1000 --keys 10 --rate 10 --duration 60   # the issue's team

Side by side in one run, on one redis-server of the bench's own: SQLite with one collector
(the baseline), then PostgreSQL (127.0.0.1:5432, a database of the bench's own per setup)
with one, two and three `runwatch collect` processes dividing the shards by lease. A load
generator process XADDs one entry per run per step (``--keys`` values), as emitters do, at
``--rate`` steps/s per run; a probe run logs a NaN every half second and a rule alerts on it.

Reported per setup: offered and committed points/s; collector lag p50/p99 (age of the oldest
entry not yet acknowledged, sampled every 0.25 s); CPU seconds per 100,000 points of the load
generator, Redis, each collector and PostgreSQL (its backends serving the bench's database,
from /proc/<pid>/stat); NaN alert p50/p99 (probe XADD → alert on the alerts stream).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bench.bench_pipeline import free_port, redis_binary  # noqa: E402
from collector.leases import lease_holder, lease_key  # noqa: E402
from emitter.events import GROUP, Keys, parse_stream_id  # noqa: E402

PG_ADMIN = os.environ.get("RUNWATCH_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TICK = os.sysconf("SC_CLK_TCK")

LOAD = r"""
import json, math, sys, time
import redis
from emitter.events import Keys, encode_entry, shard_for

url, prefix, shards, runs, keys, rate, duration = sys.argv[1:8]
shards, runs, keys, rate, duration = int(shards), int(runs), int(keys), float(rate), float(duration)
client = redis.Redis.from_url(url)
k = Keys(prefix)
tag = str(time.time_ns())
ids = [f"load-{tag}-{r}" for r in range(runs)]
streams = [k.stream(shard_for(run, shards)) for run in ids]
names = [f"train/m{i}" for i in range(keys)]
pipe = client.pipeline(transaction=False)
for run, stream in zip(ids, streams):
    pipe.xadd(stream, encode_entry(run, "w-" + run[-12:], [[0, time.time(), "run.start", {"project": "load", "name": run}]]))
pipe.execute()
probe = f"probe-{tag}"
probe_stream = k.stream(shard_for(probe, shards))
client.xadd(probe_stream, encode_entry(probe, "w-probe", [[0, time.time(), "run.start", {"project": "load", "name": "probe"}]]))
probe_seq, probes, points, late, step = 1, [], 0, 0, 0
started = time.monotonic()
next_probe = started + 0.5
while time.monotonic() - started < duration:
    due = started + step / rate
    now = time.monotonic()
    if now < due:
        time.sleep(due - now)
    elif now - due > 1 / rate:
        late += 1
    ts = time.time()
    for i, (run, stream) in enumerate(zip(ids, streams)):
        values = {name: step + j / 8 for j, name in enumerate(names)}
        pipe.xadd(stream, encode_entry(run, "w-" + run[-12:], [[step + 1, ts, "metrics", {"step": step, "values": values}]]))
        if len(pipe) >= 500:
            pipe.execute()
    pipe.execute()
    points += runs * keys
    if time.monotonic() >= next_probe:
        next_probe += 0.5
        for value in (math.nan, 1.0):  # a NaN opens an episode, the finite point ends it
            entry_id = client.xadd(probe_stream, encode_entry(probe, "w-probe", [[probe_seq, time.time(), "metrics", {"step": probe_seq, "values": {"probe": value}}]]))
            if value != value:
                probes.append((entry_id.decode(), probe_seq))
            probe_seq += 1
    step += 1
cpu = time.process_time()
print(json.dumps({"points": points, "late_ticks": late, "probe": probe, "probes": probes, "steps": step, "cpu": cpu}))
"""

RULES = "rules:\n  - {name: probe-nan, metric: probe, condition: nonfinite}\n"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def pg_backends(database: str) -> list[int]:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        return [row[0] for row in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,))]


def pg_database(action: str, name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        if action == "create":
            conn.execute(f'CREATE DATABASE "{name}"')
        else:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001 - not installed, refused, unauthorised: all mean "not here"
        return False


def lag_ms(client: redis.Redis, streams: list[str]) -> float:
    """Age of the oldest entry the group has not acknowledged (pending, or not delivered yet)."""
    now_ms = time.time() * 1000
    oldest = now_ms
    for stream in streams:
        for group in client.xinfo_groups(stream):
            if group["name"].decode() != GROUP:
                continue
            if group["pending"]:
                first: Any = client.xpending(stream, GROUP)["min"]  # None if acknowledged meanwhile
                if first is not None:
                    oldest = min(oldest, parse_stream_id(first.decode())[0])
            undelivered: Any = client.xrange(stream, min="(" + group["last-delivered-id"].decode(), count=1)
            if undelivered:
                oldest = min(oldest, parse_stream_id(undelivered[0][0].decode())[0])
    return now_ms - oldest


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(setup: str, collectors: int, args: argparse.Namespace, redis_url: str, redis_pid: int) -> dict[str, Any]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    keys = Keys(prefix)
    streams = keys.streams(args.shards)
    work = Path(tempfile.mkdtemp(prefix=f"bench-load-{setup}-"))
    (work / "alerts.yaml").write_text(RULES)
    database = f"runwatch_bench_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RUNWATCH_REDIS_URL": redis_url,
        "RUNWATCH_PREFIX": prefix,
        "RUNWATCH_HOME": str(work),
        "RUNWATCH_SHARDS": str(args.shards),
        "RUNWATCH_ALERTS": str(work / "alerts.yaml"),
        "RUNWATCH_LEASE_SECONDS": "3",
    }
    if setup == "postgres":
        pg_database("create", database)
        env["RUNWATCH_DATABASE_URL"] = PG_ADMIN.rsplit("/", 1)[0] + "/" + database
    client = redis.Redis.from_url(redis_url)
    procs = []
    try:
        for i in range(collectors):
            log = open(work / f"collector-{i}.log", "wb")  # noqa: SIM115 - closed with the process
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "collector", "collect"],
                    env={**env, "RUNWATCH_CONSUMER_NAME": f"bench-{i}"},
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        names = {f"bench-{i}" for i in range(collectors)}
        deadline = time.monotonic() + 60
        while True:  # every shard leased, by every collector
            holders = [lease_holder(client.get(lease_key(prefix, s))) for s in range(args.shards)]
            if None not in holders and set(holders) == names:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"{setup} x{collectors}: the collectors did not share the shards: {holders}")
            time.sleep(0.2)
        backends = pg_backends(database) if setup == "postgres" else []
        before = {
            "redis": cpu_seconds(redis_pid),
            **{f"collector-{i}": cpu_seconds(p.pid) for i, p in enumerate(procs)},
        }
        pg_before = {pid: cpu_seconds(pid) for pid in backends}
        started = time.monotonic()
        load = subprocess.Popen(
            [sys.executable, "-c", LOAD, redis_url, prefix, str(args.shards), str(args.runs), str(args.keys)]
            + [str(args.rate), str(args.duration)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        lags = []
        while load.poll() is None:
            lags.append(lag_ms(client, streams))
            time.sleep(0.25)
        out, _ = load.communicate()
        report = json.loads(out.strip().splitlines()[-1])
        load_cpu = report["cpu"]  # its own process_time(): poll() reaped it, /proc has it no more
        while lag_ms(client, streams) > 0:  # drained: everything committed and acknowledged
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        backends_after = pg_backends(database) if setup == "postgres" else []
        pg_cpu = sum(cpu_seconds(pid) - pg_before.get(pid, 0.0) for pid in backends_after)
        cpu = {
            "load generator": load_cpu,
            "redis": cpu_seconds(redis_pid) - before["redis"],
            **{f"collector-{i}": cpu_seconds(p.pid) - before[f"collector-{i}"] for i, p in enumerate(procs)},
        }
        if setup == "postgres":
            cpu["postgresql"] = pg_cpu
        alerts_at: dict[int, float] = {}
        published: Any = client.xrange(keys.alerts)
        for entry_id, fields in published:
            t = json.loads(fields[b"t"])
            if t.get("state") == "firing" and t.get("run_id") == report["probe"]:
                alerts_at[t.get("step")] = parse_stream_id(entry_id.decode())[0]
        alert_ms: list[float] = [
            alerts_at[step] - parse_stream_id(eid)[0] for eid, step in report["probes"] if step in alerts_at
        ]
        points = report["points"]
        return {
            "setup": f"{'SQLite' if setup == 'sqlite' else 'PostgreSQL'} x{collectors}",
            "offered": args.runs * args.keys * args.rate,
            "committed": points / elapsed,
            "lag_p50_ms": pct(lags, 0.5),
            "lag_p99_ms": pct(lags, 0.99),
            "late_ticks": report["late_ticks"],
            "cpu_per_100k": {name: seconds / points * 1e5 for name, seconds in cpu.items()},
            "collector_points_per_cpu_s": points / max(1e-9, sum(v for n, v in cpu.items() if n.startswith("coll"))),
            "alert_p50_ms": pct(alert_ms, 0.5),
            "alert_p99_ms": pct(alert_ms, 0.99),
            "alerts": f"{len(alert_ms)}/{len(report['probes'])}",
        }
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        client.close()
        if setup == "postgres":
            pg_database("drop", database)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--rate", type=float, default=10.0, help="Steps per second per run.")
    parser.add_argument("--duration", type=float, default=15.0, help="Seconds of load per setup.")
    parser.add_argument("--shards", type=int, default=12, help="Shard streams (12 divide evenly over 1-3 collectors).")
    parser.add_argument("--setups", default="sqlite:1,postgres:1,postgres:2,postgres:3")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    data = Path(tempfile.mkdtemp(prefix="bench-load-redis-"))
    port = free_port()
    server = subprocess.Popen(
        [redis_binary(), "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data), "--save", ""]
        + ["--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        for _ in range(600):  # up to 30 s on a busy machine
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        results = []
        setups = args.setups.split(",")
        if any(item.startswith("postgres") for item in setups) and not postgres_reachable():
            print(f"PostgreSQL at {PG_ADMIN} is unreachable (RUNWATCH_BENCH_PG): SQLite only", flush=True)
            setups = [item for item in setups if not item.startswith("postgres")]
        for item in setups:
            setup, count = item.split(":")
            result = measure(setup, int(count), args, url, server.pid)
            print(json.dumps(result), flush=True)
            results.append(result)
        print_table(results, args)
    finally:
        server.terminate()
        server.wait()


def print_table(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\n--runs {args.runs} --keys {args.keys} --rate {args.rate} --duration {args.duration} --shards {args.shards}"
    )
    print(
        "| setup | offered pts/s | committed pts/s | lag p50 / p99 ms | NaN alert p50 / p99 ms"
        " | collectors' points per CPU-s | CPU s per 100k points |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        cpu = ", ".join(f"{name} {seconds:.2f}" for name, seconds in r["cpu_per_100k"].items())
        print(
            f"| {r['setup']} | {r['offered']:,.0f} | {r['committed']:,.0f} | {r['lag_p50_ms']:.0f} / {r['lag_p99_ms']:.0f}"
            f" | {r['alert_p50_ms']:.0f} / {r['alert_p99_ms']:.0f} ({r['alerts']})"
            f" | {r['collector_points_per_cpu_s']:,.0f} | {cpu} |"
        )
    summary = {r["setup"]: {"committed": round(r["committed"]), "lag_p99_ms": r["lag_p99_ms"]} for r in results}
    print("JSON: " + json.dumps(summary))
    base = results[0]["committed"] if results else 0.0
    for r in results[1:]:
        print(f"{r['setup']}: {r['committed'] / base:.2f}x the committed rate of {results[0]['setup']}")


if __name__ == "__main__":
    main()
