"""The store's interface: what the consumer, CLI and API may ask of any backend.

SQLite implements it now and PostgreSQL next, so nothing outside ``collector/store``
may use SQL of one engine. Writes are idempotent on ``(run_id, writer, seq)``: a batch
delivered twice (a redelivery, a replay after a Redis restart) changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from emitter.events import Batch, Event


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A stream entry that could not be stored, and why."""

    stream: str
    entry_id: str
    reason: str
    run_id: str | None = None
    size: int = 0
    raw: bytes = b""
    received_at: float = 0.0


@dataclass(slots=True)
class WriteResult:
    """What one ``write`` committed."""

    applied: list[Event] = field(default_factory=list)  # new events, in arrival order
    duplicates: int = 0
    points: int = 0
    watermarks: dict[str, int] = field(default_factory=dict)  # writer → contiguous committed seq


@dataclass(frozen=True, slots=True)
class Point:
    step: int
    ts: float
    key: str
    value: float


@dataclass(slots=True)
class MetricSummary:
    key: str
    last: float
    last_step: int
    min: float | None
    max: float | None
    count: int


@dataclass(slots=True)
class RunRecord:
    """A run as stored, with its summary of last/min/max per metric."""

    id: str
    project: str
    name: str
    group: str | None
    tags: list[str]
    notes: str
    status: str
    created_at: float
    updated_at: float
    ended_at: float | None
    last_event_at: float | None
    last_heartbeat_at: float | None
    last_step: int | None
    env: dict[str, Any]
    exit_info: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, MetricSummary] = field(default_factory=dict)


class WriteHook(Protocol):
    """Called inside the write transaction with the events it applied (alerts use it)."""

    def __call__(self, applied: Sequence[Event], now: float) -> None: ...


class Store(Protocol):
    """Persistence for runs, metrics and the pipeline's bookkeeping."""

    def write(self, batches: Sequence[Batch], dead: Sequence[DeadLetter], now: float) -> WriteResult:
        """Apply batches and record dead letters in one transaction; idempotent."""
        ...

    def record_failure(self, stream: str, entry_id: str) -> int:
        """Count a failed attempt at an entry (survives restarts); returns the total."""
        ...

    def clear_failures(self, entries: Sequence[tuple[str, str]]) -> None:
        """Forget the failure counts of ``(stream, entry_id)`` pairs once they are handled."""
        ...

    def watermark(self, writer: str) -> int:
        """Highest seq such that every seq of this writer up to it is committed (-1: none)."""
        ...

    def get_run(self, ref: str) -> RunRecord | None:
        """A run by id, or by name where the name is unique."""
        ...

    def list_runs(self, *, project: str | None = None, limit: int = 50) -> list[RunRecord]: ...

    def points(self, run_id: str, keys: Sequence[str] | None = None) -> Iterator[Point]:
        """Every stored point of a run, exact, ordered by key then step then arrival."""
        ...

    def count_points(self, run_id: str | None = None) -> int: ...

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]: ...

    def mark_lost(self, run_ids: Sequence[str], now: float) -> list[str]:
        """Mark running runs as lost; returns those that changed."""
        ...

    def idle(self) -> None:
        """Nothing is waiting to be committed: housekeeping that would otherwise delay a commit."""
        ...

    def close(self) -> None: ...
