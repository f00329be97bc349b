"""The Prometheus exporter: what /metrics shows, for how long, and how much of it."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import emitter
from collector.api.app import create_app
from collector.consumer import CommitReport, Consumer
from collector.exporter import Exporter
from collector.settings import Settings
from collector.store.base import WriteResult
from emitter.events import GROUP, Event, encode_entry, shard_for, stream_id_seconds
from tests.helpers import ThreadedCollector, wait_for
from tests.prom import Samples, parse, scrape, series, value


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(tmp_path: Any, clock: Clock | None = None, consumer: Any = None, **fields: Any) -> Exporter:
    settings = Settings(home=tmp_path, prefix="rwtest-exporter", shards=2, **fields)
    return Exporter(settings, registry=CollectorRegistry(), consumer=consumer, clock=clock or Clock())


def commit(exporter: Exporter, events: Iterable[Event], seconds: float = 0.004) -> None:
    applied = list(events)
    points = sum(len(e.payload["values"]) for e in applied if e.kind in ("metrics", "system"))
    exporter.on_commit(CommitReport(WriteResult(applied=applied, points=points), max(1, len(applied)), seconds))


class Writer:
    """Builds the events one emitter writes for one run."""

    def __init__(self, run_id: str, writer: str = "w1") -> None:
        self.run_id, self.writer, self.seq = run_id, writer, 0

    def event(self, kind: str, payload: dict[str, Any]) -> Event:
        self.seq += 1
        return Event(self.run_id, self.writer, self.seq, 0.0, kind, payload)

    def start(self, project: str = "proj", name: str = "run-name") -> list[Event]:
        return [
            self.event("run.start", {"project": project, "name": name}),
            self.event("status", {"status": "running"}),
        ]

    def log(self, step: int, **values: float) -> Event:
        return self.event("metrics", {"step": step, "values": values})

    def status(self, status: str) -> Event:
        return self.event("status", {"status": status})

    def heartbeat(self, spilled: int = 0, replayed: int = 0) -> Event:
        return self.event("heartbeat", {"spilled": spilled, "replayed": replayed})


RUN = {"project": "proj", "run_id": "r1", "run_name": "run-name"}


def present(found: float | None) -> float:
    """A sample's value; the test fails where the sample is missing."""
    assert found is not None, "sample missing"
    return found


# ------------------------------------------------------------------ training-run gauges


def test_latest_value_is_the_one_at_the_highest_step_and_keys_are_label_values(tmp_path):
    exporter = make(tmp_path)
    run = Writer("r1")
    commit(exporter, [*run.start(), run.log(5, **{"val/acc": 0.5}), run.log(9, **{"val/acc": 0.9})])
    commit(exporter, [run.log(3, **{"val/acc": 0.3, "loss": 2.0})])  # late, out of order

    samples = scrape(exporter)
    assert value(samples, "runwatch_run_metric", **RUN, key="val/acc") == 0.9
    assert value(samples, "runwatch_run_metric", **RUN, key="loss") == 2.0
    assert value(samples, "runwatch_run_step", **RUN) == 9
    assert value(samples, "runwatch_run_status", **RUN, status="running") == 1
    shard, other = str(shard_for("r1", 2)), str(1 - shard_for("r1", 2))
    assert value(samples, "runwatch_points_ingested_total", shard=shard) == 4  # counted on the run's own shard
    assert value(samples, "runwatch_events_ingested_total", shard=shard) == 5
    assert value(samples, "runwatch_points_ingested_total", shard=other) == 0
    assert value(samples, "runwatch_events_ingested_total", shard=other) == 0


def test_nan_inf_and_awkward_label_values_survive_the_text_format(tmp_path):
    exporter = make(tmp_path)
    run = Writer("r1")
    key = 'eval "top-1"\\ by\nclass'
    commit(exporter, [*run.start(name='quote " name'), run.log(1, nan=math.nan, inf=math.inf, **{key: -0.25})])
    labels = {**RUN, "run_name": 'quote " name'}
    for text in (generate_latest(exporter.registry).decode(), exporter.render().decode()):
        samples = parse(text)
        assert math.isnan(present(value(samples, "runwatch_run_metric", **labels, key="nan")))
        assert value(samples, "runwatch_run_metric", **labels, key="inf") == math.inf
        assert value(samples, "runwatch_run_metric", **labels, key=key) == -0.25


def test_render_serves_the_same_samples_as_generate_latest(tmp_path):
    exporter = make(tmp_path)
    for r in range(20):
        run = Writer(f"run-{r}")
        commit(exporter, [*run.start(project=f"p{r % 3}", name=f"n{r}"), run.log(r, a=float(r), b=1.0 / (r + 1))])
    exporter.alert_fired("loss_nan", "critical")
    slow, fast = scrape(exporter), parse(exporter.render().decode())
    created = {k for k in slow if k[0].endswith("_created")}
    assert {k: v for k, v in slow.items() if k not in created} == {k: v for k, v in fast.items() if k not in created}
    assert len(series(fast, "runwatch_run_metric")) == 40


def test_a_finished_runs_series_vanish_after_the_grace_period(tmp_path):
    clock = Clock()
    exporter = make(tmp_path, clock, exporter_grace_seconds=120)
    run, other = Writer("r1"), Writer("r2")
    commit(exporter, [*run.start(), run.log(1, loss=0.5), run.heartbeat()])
    commit(exporter, [*other.start(name="other"), other.log(1, loss=0.7)])
    commit(exporter, [run.status("finished")])

    clock.now += 119
    commit(exporter, [other.log(2, loss=0.6)])
    samples = scrape(exporter)
    assert value(samples, "runwatch_run_status", **RUN, status="finished") == 1
    assert value(samples, "runwatch_run_metric", **RUN, key="loss") == 0.5
    assert value(samples, "runwatch_run_last_heartbeat_timestamp_seconds", **RUN) == clock.now - 119

    clock.now += 2
    samples = scrape(exporter)
    assert not [s for s in samples if ("run_id", "r1") in s[1]]
    assert value(samples, "runwatch_run_metric", project="proj", run_id="r2", run_name="other", key="loss") == 0.6
    assert value(samples, "runwatch_exporter_series") == 1
    assert value(samples, "runwatch_exporter_runs") == 1


def test_lost_runs_expire_unless_they_speak_again_and_silent_runs_expire_when_idle(tmp_path):
    clock = Clock()
    exporter = make(tmp_path, clock, exporter_grace_seconds=60, exporter_idle_seconds=600)
    lost, back, silent = Writer("lost"), Writer("back"), Writer("silent")
    commit(exporter, [*lost.start(name="l"), *back.start(name="b"), *silent.start(name="s")])
    exporter.runs_lost(["lost", "back"])
    assert value(scrape(exporter), "runwatch_run_status", project="proj", run_id="lost", run_name="l", status="lost")
    clock.now += 30
    commit(exporter, [back.heartbeat()])
    clock.now += 31
    samples = scrape(exporter)
    assert not series(samples, "runwatch_run_status", run_id="lost")
    assert value(samples, "runwatch_run_status", project="proj", run_id="back", run_name="b", status="running") == 1
    assert series(samples, "runwatch_run_status", run_id="silent")
    clock.now += 600
    assert not series(scrape(exporter), "runwatch_run_status", run_id="silent")


def test_a_resumed_run_is_exported_again(tmp_path):
    clock = Clock()
    exporter = make(tmp_path, clock, exporter_grace_seconds=60)
    first = Writer("r1", "w1")
    commit(exporter, [*first.start(), first.log(10, loss=1.0), first.status("killed")])
    clock.now += 3600
    second = Writer("r1", "w2")
    commit(exporter, [*second.start(), second.log(11, loss=0.9)])
    samples = scrape(exporter)
    assert value(samples, "runwatch_run_status", **RUN, status="running") == 1
    assert value(samples, "runwatch_run_metric", **RUN, key="loss") == 0.9


def test_caps_hold_with_100000_distinct_keys_attempted(tmp_path):
    exporter = make(tmp_path, exporter_max_series_per_run=50, exporter_max_series=5_000)
    wide = Writer("wide")
    commit(exporter, [*wide.start(name="wide"), wide.log(0, **{f"k{i}": float(i) for i in range(50_000)})])
    many = []
    for r in range(1_000):  # 1,000 runs × 50 keys: 50,000 more distinct (run, key) pairs
        run = Writer(f"run-{r}")
        many += [*run.start(name=f"n{r}"), run.log(0, **{f"m{i}": 1.0 for i in range(50)})]
    commit(exporter, many)

    samples = scrape(exporter)
    exported = series(samples, "runwatch_run_metric")
    assert len(exported) == 5_000
    assert len(series(samples, "runwatch_run_metric", run_id="wide")) == 50
    assert value(samples, "runwatch_exporter_series") == 5_000
    assert value(samples, "runwatch_exporter_points_dropped_total", reason="run_cap") == 50_000 - 50
    assert value(samples, "runwatch_exporter_points_dropped_total", reason="total_cap") == 50_000 - 4_950
    assert (
        present(value(samples, "runwatch_points_ingested_total", shard="0"))
        + present(value(samples, "runwatch_points_ingested_total", shard="1"))
        == 100_000
    )

    # admitted keys keep updating; a key refused once stays out
    wide_later = Writer("wide", "w2")
    commit(exporter, [wide_later.log(1, k0=42.0, k49999=1.0)])
    samples = scrape(exporter)
    assert value(samples, "runwatch_run_metric", project="proj", run_id="wide", run_name="wide", key="k0") == 42.0
    assert value(samples, "runwatch_run_metric", project="proj", run_id="wide", run_name="wide", key="k49999") is None


def test_allow_and_deny_globs_choose_the_exported_keys(tmp_path):
    exporter = make(tmp_path, exporter_keys_allow=["train/*", "val/*", "loss"], exporter_keys_deny=["*/debug_*"])
    run = Writer("r1")
    commit(exporter, [*run.start(), run.log(1, **{"train/lr": 1.0, "train/debug_x": 2.0, "val/acc": 3.0, "gpu": 4.0})])
    samples = scrape(exporter)
    assert sorted(s["key"] for s in series(samples, "runwatch_run_metric")) == ["train/lr", "val/acc"]
    assert value(samples, "runwatch_exporter_points_dropped_total", reason="filtered") == 2


def test_runs_seen_without_run_start_are_named_from_the_store_before_they_are_exported(tmp_path):
    class Record:
        project, name = "restored", "named-later"

    class FakeRuns:
        def get(self, ref: str) -> Record | None:
            return Record() if ref == "r1" else None

    class FakeStore:
        runs = FakeRuns()

    class FakeConsumer:
        """A ``ConsumerView`` without Redis whose store knows r1."""

        redis = None
        streams: list[str] = []
        store = FakeStore()
        redis_available = False
        consumed = acked = reclaimed = commits = failures = trimmed = dead = 0

        async def run_in_store(self, fn: Any, *args: Any) -> Any:
            return fn(*args)

    unscheduled = make(tmp_path, consumer=FakeConsumer())
    commit(unscheduled, [Writer("r1", "w9").log(7, loss=0.1)])
    assert value(scrape(unscheduled), "runwatch_run_metric", project="", run_id="r1", run_name="", key="loss") == 0.1

    exporter = make(tmp_path, consumer=FakeConsumer(), exporter_refresh_seconds=60)

    async def scenario() -> tuple[Samples, Samples]:
        stop = asyncio.Event()
        refresher = asyncio.create_task(exporter.run(stop))
        await asyncio.sleep(0.05)  # the service's refresher is running
        commit(exporter, [Writer("r1", "w9").log(7, loss=0.1), Writer("r2", "w9").log(1, loss=0.2)])
        held = scrape(exporter)
        await exporter.refresh()
        stop.set()
        await refresher
        return held, scrape(exporter)

    held, named = asyncio.run(scenario())
    assert not series(held, "runwatch_run_metric")  # not exported with empty labels meanwhile
    assert value(named, "runwatch_run_metric", project="restored", run_id="r1", run_name="named-later", key="loss")
    assert value(named, "runwatch_run_metric", project="", run_id="r2", run_name="", key="loss") == 0.2


# ------------------------------------------------------------------ the service itself


def test_service_counters_alerts_notifications_websockets_and_spool_replays(tmp_path):
    exporter = make(tmp_path)
    run = Writer("r1")
    commit(exporter, [*run.start(), run.heartbeat(spilled=3, replayed=0)], seconds=0.02)
    commit(exporter, [run.heartbeat(spilled=5, replayed=5), Writer("r1", "w2").heartbeat(spilled=1, replayed=1)])
    commit(exporter, [run.heartbeat(spilled=5, replayed=5)])
    exporter.alert_fired("loss_nan", "critical")
    exporter.alert_fired("loss_nan", "critical")
    exporter.notification_attempt("slack", delivered=True)
    exporter.notification_attempt("email", delivered=False)
    exporter.set_websocket_clients(3)

    samples = scrape(exporter)
    assert value(samples, "runwatch_emitter_spool_spilled_entries_total") == 6
    assert value(samples, "runwatch_emitter_spool_replayed_entries_total") == 6
    assert value(samples, "runwatch_alerts_fired_total", rule="loss_nan", severity="critical") == 2
    assert value(samples, "runwatch_notifications_sent_total", channel="slack") == 1
    assert value(samples, "runwatch_notifications_failed_total", channel="email") == 1
    assert value(samples, "runwatch_websocket_clients") == 3
    assert value(samples, "runwatch_commit_duration_seconds_count") == 3
    assert value(samples, "runwatch_commit_duration_seconds_bucket", le="0.025") == 3
    assert value(samples, "runwatch_commit_duration_seconds_bucket", le="0.01") == 2
    events = sum(present(value(samples, "runwatch_events_ingested_total", shard=s)) for s in ("0", "1"))
    assert events == 6

    exporter.websocket_clients_from(lambda: 7)
    assert value(scrape(exporter), "runwatch_websocket_clients") == 7


def test_lag_pending_and_oldest_pending_age_come_from_redis(tmp_path, redis_url, prefix):
    clock = Clock()
    settings = Settings(home=tmp_path, prefix=prefix, shards=2, redis_url=redis_url)
    sync = redis.Redis.from_url(redis_url)
    streams = settings.keys.streams(2)
    for stream in streams:
        sync.xgroup_create(stream, GROUP, id="0", mkstream=True)
    ids = [sync.xadd(streams[0], encode_entry("r1", "w", [[i, 1.0, "heartbeat", {}]])) for i in range(5)]
    sync.xreadgroup(GROUP, "someone", {streams[0]: ">"}, count=2)  # 2 delivered, never acked
    clock.now = stream_id_seconds(ids[0]) + 42

    async def refreshed() -> Samples:
        client = aioredis.from_url(redis_url)
        consumer = Consumer(settings, redis=client, store=None)  # type: ignore[arg-type]
        exporter = Exporter(settings, registry=CollectorRegistry(), consumer=consumer, clock=clock)
        await exporter.refresh()
        await client.aclose()
        return scrape(exporter)

    samples = asyncio.run(refreshed())
    on = {"stream": streams[0], "group": GROUP}
    assert value(samples, "runwatch_stream_length_entries", stream=streams[0]) == 5
    assert value(samples, "runwatch_consumer_lag_entries", **on) == 3
    assert value(samples, "runwatch_consumer_pending_entries", **on) == 2
    assert value(samples, "runwatch_consumer_oldest_pending_age_seconds", **on) == pytest.approx(42, abs=0.01)
    assert value(samples, "runwatch_consumer_lag_entries", stream=streams[1], group=GROUP) == 0
    assert value(samples, "runwatch_stream_stats_timestamp_seconds") == clock.now
    assert value(samples, "runwatch_consumer_entries_consumed_total") == 0
    sync.close()


def test_a_redis_outage_keeps_the_last_snapshot_and_counts_the_failure(tmp_path):
    settings = Settings(home=tmp_path, prefix="rwtest-down", shards=1)

    async def refreshed() -> Samples:
        client = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
        exporter = Exporter(settings, registry=CollectorRegistry(), consumer=None)
        exporter.redis = client
        await exporter.refresh()
        await client.aclose()
        return scrape(exporter)

    samples = asyncio.run(refreshed())
    assert value(samples, "runwatch_stream_stats_errors_total") == 1
    assert not series(samples, "runwatch_consumer_lag_entries")


# ------------------------------------------------------------------ end to end, in process


def test_metrics_endpoint_parses_and_shows_both_families_while_runs_log(emitter_env, settings, store):
    registry = CollectorRegistry()
    exporter = Exporter(settings, registry=registry, consumer=None)
    running = ThreadedCollector(settings, store, listeners=[exporter.on_commit]).start()
    exporter.consumer = running.consumer
    try:
        run = emitter.init("live", name="resnet-a", config={"lr": 0.1})
        for step in range(50):
            run.log({"loss": 1.0 / (step + 1), "val/acc": step / 100}, step=step)
        assert run.flush(20)
        labels = {"project": "live", "run_id": run.id, "run_name": "resnet-a"}
        wait_for(
            lambda: value(scrape(exporter), "runwatch_run_step", **labels) == 49, timeout=20, what="step 49 exported"
        )

        async def get_metrics() -> httpx.Response:
            client = aioredis.from_url(settings.redis_url)
            exporter.redis = client
            await exporter.refresh()
            app = create_app(settings, redis=client, store=store, registry=registry)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
                response = await http.get("/metrics")
            await client.aclose()
            return response

        response = asyncio.run(get_metrics())
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(response.text)}
        for name in (
            "runwatch_run_metric",
            "runwatch_run_step",
            "runwatch_run_status",
            "runwatch_run_last_heartbeat_timestamp_seconds",
            "runwatch_events_ingested",
            "runwatch_points_ingested",
            "runwatch_commit_duration_seconds",
            "runwatch_consumer_lag_entries",
            "runwatch_consumer_pending_entries",
            "runwatch_dead_letters",
            "runwatch_consumer_entries_reclaimed",
            "runwatch_alerts_fired",
            "runwatch_notifications_sent",
            "runwatch_notifications_failed",
            "runwatch_websocket_clients",
            "runwatch_emitter_spool_replayed_entries",
            "runwatch_exporter_points_dropped",
        ):
            assert name in families, name
        samples = parse(response.text)
        assert value(samples, "runwatch_run_metric", **labels, key="val/acc") == 0.49
        assert value(samples, "runwatch_run_metric", **labels, key="loss") == 1 / 50
        assert value(samples, "runwatch_run_status", **labels, status="running") == 1
        assert sum(s.value for s in families["runwatch_points_ingested"].samples if s.name.endswith("_total")) == 100
        assert len(series(samples, "runwatch_consumer_lag_entries")) == settings.shards
        run.finish()
        wait_for(
            lambda: value(scrape(exporter), "runwatch_run_status", **labels, status="finished"), what="finished status"
        )
    finally:
        running.stop()
