"""Event builders for rule tables: ``metric(step, loss=nan)``, ``status("failed")``."""

from __future__ import annotations

import itertools
from typing import Any

from emitter.events import Event, Kind

RUN = "run-1"
_seq = itertools.count()


def event(kind: Kind, payload: dict[str, Any], run: str = RUN, writer: str = "w0") -> Event:
    return Event(run, writer, next(_seq), 0.0, kind.value, payload)


def metric(step: int, run: str = RUN, writer: str = "w0", **values: float) -> Event:
    return event(
        Kind.METRICS, {"step": step, "values": {k.replace("__", "/"): float(v) for k, v in values.items()}}, run, writer
    )


def points(step: int, values: dict[str, float], kind: Kind = Kind.METRICS, run: str = RUN) -> Event:
    """A metrics (or system) event with keys exactly as given: slashes, dots, glob characters."""
    return event(kind, {"step": step, "values": {k: float(v) for k, v in values.items()}}, run)


def system(step: int, run: str = RUN, **values: float) -> Event:
    return event(Kind.SYSTEM, {"step": step, "values": {k: float(v) for k, v in values.items()}}, run)


def status(value: str, run: str = RUN, writer: str = "w0", **extra: Any) -> Event:
    return event(Kind.STATUS, {"status": value, **extra}, run, writer)


def heartbeat(run: str = RUN) -> Event:
    return event(Kind.HEARTBEAT, {}, run)


def user_alert(title: str, text: str = "", level: str = "warn", run: str = RUN) -> Event:
    return event(Kind.ALERT, {"title": title, "text": text, "level": level}, run)


def run_start(project: str, name: str = "", tags: tuple[str, ...] = (), run: str = RUN) -> Event:
    return event(Kind.RUN_START, {"project": project, "name": name, "tags": list(tags), "config": {}, "env": {}}, run)
