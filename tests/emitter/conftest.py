"""Fixtures of the emitter tests: a run whose Redis does not exist, and reading back what it spooled."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest

import emitter
from emitter._spool import Spool
from tests.helpers import free_port


@pytest.fixture
def offline_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[emitter.Run]:
    """A run whose Redis does not exist: everything it logs goes to the spool."""
    monkeypatch.setenv("RUNWATCH_FLUSH_TIMEOUT", "2")
    monkeypatch.delenv("RUNWATCH_STRICT", raising=False)
    run = emitter.init("unit", redis_url=f"redis://127.0.0.1:{free_port()}/0", home=tmp_path / "home")
    yield run
    if not run.finished:
        run.finish()


@pytest.fixture
def strict_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[emitter.Run]:
    """An offline run under RUNWATCH_STRICT=1: log() raises for what it would otherwise drop."""
    monkeypatch.setenv("RUNWATCH_FLUSH_TIMEOUT", "2")
    monkeypatch.setenv("RUNWATCH_STRICT", "1")
    run = emitter.init("unit", redis_url=f"redis://127.0.0.1:{free_port()}/0", home=tmp_path / "home")
    yield run
    if not run.finished:
        run.finish()


def _run_start_of(run: emitter.Run) -> list[Any]:
    run.finish()
    for segment in Spool(run.home / "spool").segments():
        _run_id, body = segment.read()
        _writer, events = msgpack.unpackb(body, raw=False)
        for event in events:
            if event[2] == "run.start":
                return event
    raise AssertionError("no run.start in the spool")


@pytest.fixture
def run_start_of() -> Callable[[emitter.Run], list[Any]]:
    """The run.start event as the sender got it: finish, then read it from the spool (Redis is away)."""
    return _run_start_of
