"""``RunTracker``: the latest values of active runs, folded from committed events, for /metrics.

``on_commit`` feeds it the events a commit applied; a scrape reads it and never queries the
store. Cardinality is bounded by a grace period after a run ends (and an idle timeout), per-run
and total series caps (what is left out is counted by reason) and allow/deny globs on keys.
"""

from __future__ import annotations

import fnmatch
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from emitter.events import ENDED_STATUSES, VALUE_KINDS, Event, Kind, RunStatus, shard_for

DROP_REASONS = ("filtered", "run_cap", "total_cap")
RUN_LABELS = ("project", "run_id", "run_name")
_UNKNOWN = ("", "")
_METRIC_HELP = "Latest value (at the highest step) of a metric of an active run."
_STATUS_HELP = "Status of an active run: 1 on the series of its current status."
_BEAT_HELP = "When the collector last received a heartbeat of the run (collector clock)."
_EVENT_HELP = "When the collector last received any event of the run (collector clock)."
_SPILL_HELP = "Entries emitters wrote to their disk spool (Redis unreachable, queue full), from heartbeats."
_REPLAY_HELP = "Entries emitters replayed from their disk spool, from heartbeats."
_go = cast(Callable[[float], str], floatToGoString)  # the text format's spelling of a float


class KeyFilter:
    """Allow/deny globs on metric keys (deny wins; an empty allow list allows all).

    >>> keep = KeyFilter(allow=["train/*", "loss"], deny=["*/debug_*"])
    >>> keep("train/lr"), keep("train/debug_x"), keep("gpu")
    (True, False, False)
    """

    def __init__(self, allow: Iterable[str] = (), deny: Iterable[str] = ()) -> None:
        self.allow = _compile(allow)
        self.deny = _compile(deny)
        self._cache: dict[str, bool] = {}

    def __call__(self, key: str) -> bool:
        known = self._cache.get(key)
        if known is None:
            known = (self.allow is None or bool(self.allow.match(key))) and not (
                self.deny is not None and self.deny.match(key)
            )
            if len(self._cache) >= 10_000:
                self._cache.clear()
            self._cache[key] = known
        return known


def _compile(patterns: Iterable[str]) -> re.Pattern[str] | None:
    parts = [fnmatch.translate(p) for p in patterns]
    return re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None


@dataclass(slots=True)
class RunSeries:
    """What the exporter holds of one run: identity, status, latest value per key."""

    project: str | None = None
    name: str | None = None
    status: str = RunStatus.RUNNING
    step: int | None = None
    shard: str = "0"
    last_event: float = 0.0
    last_heartbeat: float | None = None
    ended_at: float | None = None
    values: dict[str, list[Any]] = field(default_factory=dict)  # key → [step, value, rendered line prefix]
    writers: dict[str, tuple[int, int]] = field(default_factory=dict)  # writer → (spilled, replayed)
    label_text: str | None = None  # 'project="…",run_id="…",run_name="…"', cached for render()

    def labels(self, run_id: str) -> tuple[str, str, str]:
        project, name = (self.project, self.name) if self.project is not None else _UNKNOWN
        return (project, run_id, name or "")


class RunTracker:
    """Latest values of active runs, bounded in time and in series.

    >>> tracker = RunTracker(grace_seconds=300, max_series_per_run=500, max_series=50_000)
    >>> tracker.apply(events, now=time.time())
    >>> tracker.prune(now=time.time())   # runs ended more than 300 s ago are forgotten
    """

    def __init__(
        self,
        *,
        grace_seconds: float = 300.0,
        idle_seconds: float = 3600.0,
        max_series_per_run: int = 500,
        max_series: int = 50_000,
        keys: KeyFilter | None = None,
        shards: int = 1,
    ) -> None:
        self.grace_seconds = grace_seconds
        self.idle_seconds = idle_seconds
        self.max_series_per_run = max_series_per_run
        self.max_series = max_series
        self.keys = keys or KeyFilter()
        self.shards = shards
        self.runs: dict[str, RunSeries] = {}
        self.series = 0
        self.dropped = dict.fromkeys(DROP_REASONS, 0)
        self.spilled = 0
        self.replayed = 0
        self.hold_unknown = False  # True where a store lookup will name them within a refresh
        self.lock = threading.Lock()  # on_commit and scrapes may run on different threads

    def __repr__(self) -> str:
        return f"<RunTracker runs={len(self.runs)} series={self.series} dropped={sum(self.dropped.values())}>"

    def apply(self, events: Iterable[Event], now: float) -> dict[str, list[int]]:
        """Fold newly stored events in; returns ``{shard: [events, points]}`` for the counters."""
        ingested: dict[str, list[int]] = {}
        with self.lock:
            runs = self.runs
            for event in events:
                run = runs.get(event.run_id)
                if run is None:
                    run = runs[event.run_id] = RunSeries(shard=str(shard_for(event.run_id, self.shards)))
                run.last_event = now
                kind = event.kind
                if run.status == RunStatus.LOST and kind != Kind.STATUS:
                    self._status(run, RunStatus.RUNNING, now)  # a lost run that speaks again is running
                payload = event.payload
                counts = ingested.get(run.shard)
                if counts is None:
                    counts = ingested[run.shard] = [0, 0]
                counts[0] += 1
                if kind in VALUE_KINDS:
                    counts[1] += len(payload["values"])
                    self._values(run, payload["step"], payload["values"])
                elif kind == Kind.HEARTBEAT:
                    run.last_heartbeat = now
                    self._spool(run, event.writer, payload)
                elif kind == Kind.STATUS:
                    self._status(run, payload["status"], now)
                elif kind == Kind.RUN_START:
                    self._name(run, payload["project"], payload.get("name") or "")
        return ingested

    def _values(self, run: RunSeries, step: int, values: dict[str, float]) -> None:
        if run.step is None or step > run.step:
            run.step = step
        series = run.values
        for key, value in values.items():
            slot = series.get(key)
            if slot is not None:
                if step >= slot[0]:
                    slot[0], slot[1] = step, value
            elif self._admit(run, key):
                series[key] = [step, value, None]

    def _admit(self, run: RunSeries, key: str) -> bool:
        if not self.keys(key):
            reason = "filtered"
        elif len(run.values) >= self.max_series_per_run:
            reason = "run_cap"
        elif self.series >= self.max_series:
            reason = "total_cap"
        else:
            self.series += 1
            return True
        self.dropped[reason] += 1
        return False

    def _status(self, run: RunSeries, status: str, now: float) -> None:
        run.status = status
        run.ended_at = now if status in ENDED_STATUSES or status == RunStatus.LOST else None

    def _spool(self, run: RunSeries, writer: str, payload: dict[str, Any]) -> None:
        spilled, replayed = payload.get("spilled"), payload.get("replayed")
        if type(spilled) is not int or type(replayed) is not int:
            return
        old_spilled, old_replayed = run.writers.get(writer, (0, 0))
        self.spilled += max(0, spilled - old_spilled)
        self.replayed += max(0, replayed - old_replayed)
        run.writers[writer] = (max(spilled, old_spilled), max(replayed, old_replayed))

    def mark(self, run_ids: Iterable[str], status: str, now: float) -> None:
        """Set a status the collector decided (``lost``), for runs it tracks."""
        with self.lock:
            for run_id in run_ids:
                run = self.runs.get(run_id)
                if run is not None and run.status not in ENDED_STATUSES:
                    self._status(run, status, now)

    def prune(self, now: float) -> int:
        """Forget runs past their grace period (or idle too long); returns how many."""
        with self.lock:
            gone = [
                run_id
                for run_id, run in self.runs.items()
                if (run.ended_at is not None and now - run.ended_at >= self.grace_seconds)
                or now - run.last_event >= self.idle_seconds
            ]
            for run_id in gone:
                self.series -= len(self.runs.pop(run_id).values)
        return len(gone)

    def unknown(self) -> list[str]:
        """Runs seen without their ``run.start`` (e.g. after a collector restart)."""
        with self.lock:
            return [run_id for run_id, run in self.runs.items() if run.project is None]

    def identify(self, run_id: str, project: str, name: str) -> None:
        with self.lock:
            run = self.runs.get(run_id)
            if run is not None and run.project is None:
                self._name(run, project, name)

    @staticmethod
    def _name(run: RunSeries, project: str, name: str) -> None:
        if (run.project, run.name) != (project, name):
            run.project, run.name, run.label_text = project, name, None
            for slot in run.values.values():
                slot[2] = None

    def render_metric(self) -> str:
        """``runwatch_run_metric`` in the text format, from cached line prefixes (the scrape's hot path)."""
        out = [f"# HELP runwatch_run_metric {_METRIC_HELP}\n# TYPE runwatch_run_metric gauge\n"]
        append = out.append
        with self.lock:
            for run_id, run in self.runs.items():
                if run.project is None and self.hold_unknown:
                    continue
                labels = run.label_text
                if labels is None:
                    project, _, name = run.labels(run_id)
                    labels = run.label_text = (
                        f'project="{_esc(project)}",run_id="{_esc(run_id)}",run_name="{_esc(name)}"'
                    )
                for key, slot in run.values.items():
                    prefix = slot[2]
                    if prefix is None:
                        prefix = slot[2] = f'runwatch_run_metric{{key="{_esc(key)}",{labels}}} '
                    append(prefix)
                    append(_go(slot[1]))
                    append("\n")
        return "".join(out)

    def families(self, *, with_metric: bool = True) -> list[Metric]:
        """The training-run gauges as they are now (called at scrape time)."""
        metric = GaugeMetricFamily("runwatch_run_metric", _METRIC_HELP, labels=(*RUN_LABELS, "key"))
        step = GaugeMetricFamily("runwatch_run_step", "Highest step logged by an active run.", labels=RUN_LABELS)
        status = GaugeMetricFamily("runwatch_run_status", _STATUS_HELP, labels=(*RUN_LABELS, "status"))
        heartbeat = GaugeMetricFamily("runwatch_run_last_heartbeat_timestamp_seconds", _BEAT_HELP, labels=RUN_LABELS)
        last_event = GaugeMetricFamily("runwatch_run_last_event_timestamp_seconds", _EVENT_HELP, labels=RUN_LABELS)
        with self.lock:
            for run_id, run in self.runs.items():
                if run.project is None and self.hold_unknown:
                    continue
                labels = run.labels(run_id)
                project, _, name = labels
                if with_metric:
                    add = metric.add_metric
                    for key, slot in run.values.items():
                        add((project, run_id, name, key), slot[1])
                if run.step is not None:
                    step.add_metric(labels, run.step)
                status.add_metric((*labels, run.status), 1.0)
                if run.last_heartbeat is not None:
                    heartbeat.add_metric(labels, run.last_heartbeat)
                last_event.add_metric(labels, run.last_event)
            runs, series = len(self.runs), self.series
            dropped = dict(self.dropped)
            spilled, replayed = self.spilled, self.replayed
        tracked = GaugeMetricFamily("runwatch_exporter_runs", "Runs whose series are exported now.", value=runs)
        exported = GaugeMetricFamily("runwatch_exporter_series", "runwatch_run_metric series now.", value=series)
        left_out = CounterMetricFamily(
            "runwatch_exporter_points_dropped",
            "Metric values not exported: key filtered out, or over the per-run or total series cap.",
            labels=("reason",),
        )
        for reason, count in dropped.items():
            left_out.add_metric((reason,), count)
        spills = CounterMetricFamily("runwatch_emitter_spool_spilled_entries", _SPILL_HELP, value=spilled)
        replays = CounterMetricFamily("runwatch_emitter_spool_replayed_entries", _REPLAY_HELP, value=replayed)
        families: list[Metric] = [step, status, heartbeat, last_event, tracked, exported, left_out, spills, replays]
        return [metric, *families] if with_metric else families


def _esc(value: str) -> str:
    """A label value escaped for the text format."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
