"""Digest entries of the rules file and their schedules: which period a digest covers at a time.

A digest is sent once per period of its schedule::

    digests:
      - name: nightly
        schedule: daily 08:00          # or a 5-field cron line: "0 8 * * 1-5"
        timezone: Europe/Paris
        scope: "project = 'cifar' and not tags.smoke"   # the runs filter grammar
        metric: val/acc
        mode: max
        notify: [ml-team]

The period that ends at a scheduled time ``t`` runs from the scheduled time before it
(exclusive) to ``t`` (inclusive). Its key (``Digest.period_key``) names it the same in
every collector, so the outbox's deterministic delivery ids make "sent once per period"
hold across restarts and any number of collectors. Pure: no clock, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from alerts.conditions import Duration
from alerts.rules import StrictModel

__all__ = ["CronSchedule", "Digest", "Period", "parse_schedule"]

_DAILY = re.compile(r"^\s*daily\s+(\d{1,2}):(\d{2})\s*$", re.IGNORECASE)
_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_SEARCH_DAYS = 366 * 5  # a cron line no date matches within this (e.g. "0 0 31 2 *") is refused


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A 5-field cron line (minute hour day-of-month month day-of-week), ``daily HH:MM`` included.

    As in cron, when both day fields are restricted a day matches either of them.
    """

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday (7 is folded into 0)
    any_day: bool
    any_weekday: bool

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        weekday = (day.weekday() + 1) % 7  # Python's Monday=0 → cron's Sunday=0
        if self.any_day or self.any_weekday:
            return day.day in self.days and weekday in self.weekdays
        return day.day in self.days or weekday in self.weekdays

    def latest_at_or_before(self, moment: datetime) -> datetime:
        """The last scheduled wall-clock time ≤ ``moment`` (aware, in ``moment``'s zone)."""
        zone = moment.tzinfo
        local = moment.replace(second=0, microsecond=0)
        for back in range(_SEARCH_DAYS):
            day = (local - timedelta(days=back)).date()
            if not self.day_matches(day):
                continue
            for hour in sorted(self.hours, reverse=True):
                for minute in sorted(self.minutes, reverse=True):
                    candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                    if candidate.astimezone(UTC) <= moment.astimezone(UTC):
                        return candidate
        raise ValueError("the schedule matches no date")


def parse_schedule(text: str) -> CronSchedule:
    """``daily HH:MM`` or a cron line; ``ValueError`` says what is wrong with it."""
    daily = _DAILY.match(text)
    if daily:
        hour, minute = int(daily.group(1)), int(daily.group(2))
        if hour > 23 or minute > 59:
            raise ValueError(f"no such time of day {daily.group(1)}:{daily.group(2)} (expected HH:MM, 00:00-23:59)")
        text = f"{minute} {hour} * * *"
    parts = text.split()
    if len(parts) != 5:
        raise ValueError(f"cannot parse schedule {text!r} (expected 'daily HH:MM' or a 5-field cron line)")
    sets = [_cron_field(part, *spec) for part, spec in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in sets[4])
    schedule = CronSchedule(
        sets[0], sets[1], sets[2], sets[3], weekdays, any_day=parts[2] == "*", any_weekday=parts[4] == "*"
    )
    start = date(2000, 1, 1)
    if not any(schedule.day_matches(start + timedelta(days=n)) for n in range(_SEARCH_DAYS)):
        raise ValueError(f"schedule {text!r} matches no date")
    return schedule


def _cron_field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        body, _, step_text = item.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if body == "*":
                first, last = low, high
            elif "-" in body:
                a, b = body.split("-", 1)
                first, last = int(a), int(b)
            else:
                first = last = int(body)
                if step_text:
                    last = high
        except ValueError:
            raise ValueError(f"cannot parse {name} {item!r} in the cron line") from None
        if step < 1 or not low <= first <= last <= high:
            raise ValueError(f"{name} {item!r} is out of range {low}-{high}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True, slots=True)
class Period:
    """What one digest covers: runs updated in (``start``, ``end``] (Unix seconds); ``key`` names it."""

    start: float
    end: float
    key: str  # the scheduled time that ends it, ISO 8601 in the digest's zone (or "preview")


class Digest(StrictModel):
    """One ``digests:`` entry: a summary of new best runs sent on a schedule.

    >>> d = Digest(name="nightly", schedule="daily 08:00", metric="val/acc", mode="max")
    >>> d.due_period(now).key        # the period that ended at the last 08:00 UTC
    '2026-12-01T08:00:00+00:00'
    """

    name: str = Field(min_length=1, max_length=200)
    schedule: str
    timezone: str = "UTC"
    scope: str | None = None  # a runs filter; None: every run
    metric: str = Field(min_length=1, max_length=250)
    mode: Literal["min", "max"]
    notify: list[str] | None = None  # None: the defaults' notify, else every channel
    limit: int = Field(10, ge=1, le=100)  # best runs listed, and failed/lost runs listed
    catch_up: Duration = 3600.0  # a period that ended while no collector ran is sent this long after

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: str) -> str:
        parse_schedule(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (expected e.g. UTC or Europe/Paris)") from None
        return value

    @field_validator("metric")
    @classmethod
    def _plain_metric(cls, value: str) -> str:
        if "`" in value or any(c in value for c in "*?["):
            raise ValueError("must name one metric (no glob, no backquote)")
        return value

    @cached_property
    def cron(self) -> CronSchedule:
        return parse_schedule(self.schedule)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def latest_fire(self, now: float) -> datetime:
        """The last scheduled time at or before ``now``."""
        return self.cron.latest_at_or_before(datetime.fromtimestamp(now, self.zone))

    def period_ending(self, fire: datetime) -> Period:
        previous = self.cron.latest_at_or_before(fire - timedelta(minutes=1))
        return Period(previous.timestamp(), fire.timestamp(), fire.isoformat())

    def due_period(self, now: float) -> Period:
        """The period that ended at the last scheduled time (sent if no collector sent it yet)."""
        return self.period_ending(self.latest_fire(now))

    def current_period(self, now: float) -> Period:
        """From the last scheduled time to ``now``: what a digest sent right now would cover (preview)."""
        return Period(self.latest_fire(now).timestamp(), now, "preview")
