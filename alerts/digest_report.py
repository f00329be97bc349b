"""What a digest says for one period, computed from the runs, and the outbox rows that send it.

The new best runs of a period are the runs in scope that logged during it (updated in
(start, end]) whose ``metric`` beats every run in scope that was quiet since before the
period began (its value then is its value now, so "the previous best" is exact). The
best of them is compared with that previous best: its params diff. Failed, killed and
lost runs are those of the scope that ended so during the period.

Delivery ids are ``digest:<name>:<period key>@<channel>``: they depend on the period only,
never on what was found, so a second collector (or a restarted one) inserting the same
period's digest changes nothing (``OutboxStore.add_deliveries`` keeps the first).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from alerts.digest import Digest, Period
from alerts.transition import Transition, number_from_json
from emitter.events import json_number

if TYPE_CHECKING:
    from alerts.outbox import Delivery

__all__ = ["DigestReport", "DigestRun", "RunSearch", "build_report", "digest_deliveries"]

_PAGE = 200  # runs read per search page
_MAX_SCAN = 5_000  # runs updated in one period that are looked at, at most


class RunSearch(Protocol):
    """The runs' search, as the collector's ``RunStore.search`` answers it (the filter grammar)."""

    def search(
        self, *, filter: str | None = None, sort: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[dict[str, Any]], bool]: ...


@dataclass(frozen=True, slots=True)
class DigestRun:
    """One run as a digest lists it."""

    id: str
    name: str
    project: str
    status: str
    value: float | None
    link: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["value"] = json_number(self.value)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DigestRun:
        values = dict(data)
        if values.get("value") is not None:
            values["value"] = number_from_json(values["value"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class DigestReport:
    """One digest of one period, strict-JSON safe (``to_dict``) as the outbox stores it."""

    name: str
    metric: str
    mode: str
    scope: str | None
    period_key: str
    start: float
    end: float
    best: list[DigestRun] = field(default_factory=list)  # the new best runs, best first
    previous_best: DigestRun | None = None
    params_diff: list[tuple[str, Any, Any]] = field(default_factory=list)  # (key, previous, best); None: absent
    ended_badly: list[DigestRun] = field(default_factory=list)  # failed, killed or lost in the period
    more_best: int = 0  # new best runs beyond ``limit``
    more_ended_badly: int = 0

    @property
    def title(self) -> str:
        if self.best:
            top = self.best[0]
            head = f"new best {self.metric} {_fmt(top.value)} ({top.name})"
        else:
            head = f"no new best {self.metric}"
        bad = len(self.ended_badly) + self.more_ended_badly
        tail = f", {bad} failed or lost" if bad else ""
        return f"Digest {self.name}: {head}{tail}"

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k not in ("best", "previous_best", "ended_badly")}
        data["best"] = [r.to_dict() for r in self.best]
        data["previous_best"] = self.previous_best.to_dict() if self.previous_best else None
        data["ended_badly"] = [r.to_dict() for r in self.ended_badly]
        data["params_diff"] = [list(item) for item in self.params_diff]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DigestReport:
        values = dict(data)
        values["best"] = [DigestRun.from_dict(r) for r in values.get("best", [])]
        previous = values.get("previous_best")
        values["previous_best"] = DigestRun.from_dict(previous) if previous else None
        values["ended_badly"] = [DigestRun.from_dict(r) for r in values.get("ended_badly", [])]
        values["params_diff"] = [tuple(item) for item in values.get("params_diff", [])]
        return cls(**values)


def build_report(digest: Digest, runs: RunSearch, period: Period, public_url: str | None = None) -> DigestReport:
    """Search the runs for one period of ``digest``; raises the search's error for a bad scope."""
    scope = f"({digest.scope}) and " if digest.scope and digest.scope.strip() else ""
    key = f"metrics.`{digest.metric}`"
    order = f"metrics.{digest.metric} {'desc' if digest.mode == 'max' else 'asc'}"
    before, _ = runs.search(filter=f"{scope}{key} and updated_at <= {period.start!r}", sort=order, limit=1)
    previous = _run(before[0], digest.metric, public_url) if before else None
    previous_params = before[0].get("params", {}) if before else {}
    in_period = f"updated_at > {period.start!r} and updated_at <= {period.end!r}"
    best: list[tuple[DigestRun, dict[str, Any]]] = []
    for entry in _all(runs, f"{scope}{key} and {in_period}", order):
        run = _run(entry, digest.metric, public_url)
        if run.value is None or math.isnan(run.value):
            continue
        if previous is not None and not _beats(run.value, previous.value, digest.mode):
            break  # sorted best first: nothing after this one beats the previous best either
        best.append((run, entry.get("params", {})))
    failed = f"{scope}status in (failed, killed, lost) and {in_period}"
    bad_page, more_bad = runs.search(filter=failed, sort="updated_at desc", limit=digest.limit)
    ended_badly = [_run(entry, digest.metric, public_url) for entry in bad_page]
    more_ended_badly = 0
    if more_bad:
        more_ended_badly = sum(1 for _ in _all(runs, failed, "updated_at desc")) - len(ended_badly)
    diff = _params_diff(previous_params, best[0][1]) if best and previous is not None else []
    return DigestReport(
        name=digest.name,
        metric=digest.metric,
        mode=digest.mode,
        scope=digest.scope,
        period_key=period.key,
        start=period.start,
        end=period.end,
        best=[run for run, _ in best[: digest.limit]],
        previous_best=previous,
        params_diff=diff,
        ended_badly=ended_badly,
        more_best=max(0, len(best) - digest.limit),
        more_ended_badly=more_ended_badly,
    )


def digest_deliveries(
    report: DigestReport,
    channels: Sequence[str],
    now: float,
    *,
    attempts: int = 0,
    next_attempt_at: float | None = None,
) -> list[Delivery]:
    """One delivery per channel, its id fixed by (digest, period): inserting it again is a no-op."""
    from alerts.outbox import Delivery  # the outbox's notifiers render digests: imported at call time

    top = report.best[0].id if report.best else ""
    transition = Transition(
        rule=report.name,
        run_id=top,
        state="firing",
        kind="digest",
        episode=0,
        seq=0,
        at=report.end,
        severity="info",
        notify=tuple(channels),
        title=report.title,
        subject=report.period_key,
        digest=report.to_dict(),
    )
    payload = transition.to_dict()
    due = now if next_attempt_at is None else next_attempt_at
    return [
        Delivery(
            id=f"digest:{report.name}:{report.period_key}@{channel}",
            channel=channel,
            payload=payload,
            created_at=now,
            next_attempt_at=due,
            attempts=attempts,
        )
        for channel in channels
    ]


def _all(runs: RunSearch, filter: str, sort: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while len(found) < _MAX_SCAN:
        page, more = runs.search(filter=filter, sort=sort, limit=_PAGE, offset=len(found))
        found.extend(page)
        if not more or not page:
            break
    return found


def _run(entry: Mapping[str, Any], metric: str, public_url: str | None) -> DigestRun:
    summary = entry.get("metrics", {}).get(metric)
    raw = summary.get("last") if isinstance(summary, dict) else None
    value = None if raw is None else number_from_json(raw)
    run_id = str(entry["id"])
    link = f"{public_url.rstrip('/')}/runs/{quote(run_id, safe='')}" if public_url else None
    return DigestRun(
        id=run_id,
        name=str(entry.get("name") or run_id),
        project=str(entry.get("project") or ""),
        status=str(entry.get("status") or ""),
        value=value,
        link=link,
    )


def _beats(value: float, previous: float | None, mode: str) -> bool:
    if previous is None or math.isnan(previous):
        return True
    return value > previous if mode == "max" else value < previous


def _params_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    return [
        (key, before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.6g}"
