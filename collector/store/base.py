"""The store's interface: what the consumer, alerting, CLI and API may ask of any backend.

A backend is the write path (``Store.write`` and the pipeline's bookkeeping) plus one
object per noun: ``runs``, ``series``, ``alerts``, ``tokens``, ``silences``,
``dead_letters``, ``artifacts`` and ``audit``. Nothing outside ``collector/store`` uses SQL of one
engine, or a backend's private attributes; SQLite lives in ``store/sqlite/`` and a
second backend is a sibling folder that passes the same tests (``tests/collector/store/``).

Writes are idempotent on ``(run_id, writer, seq)``: a batch delivered twice (a
redelivery, a replay after a Redis restart) changes nothing. Reads that feed the API
return JSON-ready values: non-finite floats are spelled as ``emitter.events.json_number``
spells them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from alerts import Delivery, Liveness, OutboxStore, RunInfo, Silence, Transition
from emitter.events import Batch, Event

from .records import (
    ROLES,
    AlertRecord,
    AliasMove,
    ArtifactFile,
    ArtifactRejection,
    ArtifactVersion,
    AuditEntry,
    DeadLetter,
    EntryRejected,
    MetricSummary,
    Point,
    RunRecord,
    SchemaPolicy,
    TokenInfo,
    UserAlert,
    WriteResult,
    artifact_json,
    hash_token,
)

__all__ = [
    "AlertRecord",
    "AlertStore",
    "AliasMove",
    "AuditEntry",
    "AuditStore",
    "ArtifactFile",
    "ArtifactRejection",
    "ArtifactStore",
    "ArtifactVersion",
    "DeadLetter",
    "DeadLetterStore",
    "EntryRejected",
    "MetricSummary",
    "Point",
    "ROLES",
    "RunRecord",
    "RunStore",
    "SchemaPolicy",
    "SeriesStore",
    "SilenceStore",
    "Store",
    "TokenInfo",
    "TokenStore",
    "UserAlert",
    "WriteHook",
    "WriteResult",
    "artifact_json",
    "hash_token",
]

T = TypeVar("T")


# ------------------------------------------------------------------ the nouns


class RunStore(Protocol):
    """Runs: lookups for the CLI, pages and details for the API."""

    def get(self, ref: str) -> RunRecord | None:
        """A run by id, or by name where the name is unique; with params and metric summary."""
        ...

    def resolve(self, ref: str) -> str | None:
        """The id of the run with this id, or with this name where the name is unique."""
        ...

    def named(self, name: str) -> list[str]:
        """Ids of every run with this name."""
        ...

    def recent(self, *, project: str | None = None, limit: int = 50) -> list[RunRecord]:
        """The newest runs first (the CLI's table)."""
        ...

    def search(
        self, *, filter: str | None = None, sort: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[dict[str, Any]], bool]:
        """A JSON-ready page of runs matching ``filter`` in ``sort`` order, and whether more follow.

        Raises ``FilterError`` for a filter or sort that does not parse.
        """
        ...

    def detail(self, run_id: str) -> dict[str, Any] | None:
        """Everything about one run, JSON-ready: metadata, params, metrics, notes, artifacts, writers."""
        ...

    def brief(self, run_ids: Sequence[str]) -> list[dict[str, Any]]:
        """``id``, ``name``, ``project`` and ``status`` of the known runs among ``run_ids``, in order."""
        ...

    def params(self, run_id: str) -> dict[str, Any]:
        """A run's params, decoded."""
        ...

    def projects(self, run_ids: Sequence[str]) -> dict[str, str]:
        """The project of each known run (the live hub routes project subscriptions with it)."""
        ...

    def notes(self, run_id: str) -> list[tuple[float, str]]:
        """Notes added to a run after it started, oldest first."""
        ...

    def project_list(self) -> list[tuple[str, float, float]]:
        """Every project with runs: ``(project, first run's created_at, latest updated_at)``, by name."""
        ...

    def mark_lost(self, run_ids: Sequence[str], now: float) -> list[str]:
        """Mark running runs as lost; returns those that changed."""
        ...


class SeriesStore(Protocol):
    """Metric series: downsampled reads for charts, exact points for export."""

    def read(
        self,
        run_id: str,
        keys: Sequence[str] | None = None,
        *,
        max_points: int = 1000,
        from_step: int | None = None,
        to_step: int | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Each metric of a run in ``[from_step, to_step]``, at most ``max_points`` buckets (0: every point).

        JSON-ready. Downsampled buckets keep min, max, last and the NaN count, so spikes and NaNs show.
        """
        ...

    def points(self, run_id: str, keys: Sequence[str] | None = None) -> Iterator[Point]:
        """Every stored point of a run, exact, ordered by key then step then arrival."""
        ...

    def count_points(self, run_id: str | None = None) -> int:
        """Points stored for a run (every run: None)."""
        ...

    def keys(self, run_id: str, kind: str | None = None) -> list[str]:
        """A run's metric keys (of one kind: ``metrics`` or ``system``), sorted."""
        ...


class AlertStore(OutboxStore, Protocol):
    """The alert engine's state, its history and the delivery outbox (``alerts.OutboxStore``).

    The ``*_in_tx`` methods run inside a transaction already held — the events' write
    (a ``WriteHook``) or ``transaction(work)`` — so transitions commit with their cause.
    """

    def transaction(self, work: Callable[[], T]) -> T:
        """Run ``work`` inside one write transaction (it may call the ``*_in_tx`` methods)."""
        ...

    def alert_state_rows(self) -> list[tuple[str, str, str, dict[str, Any]]]: ...

    def alert_state_rows_in_tx(self, run_ids: Sequence[str]) -> list[tuple[str, str, str, dict[str, Any]]]:
        """The engine state of these runs as committed: another collector (the stall detector) may have changed it."""
        ...

    def save_alert_state_in_tx(self, changes: Sequence[tuple[tuple[str, str, str], dict[str, Any] | None]]) -> None: ...

    def record_transitions_in_tx(self, transitions: Sequence[Transition]) -> None: ...

    def run_info_in_tx(self, run_id: str) -> RunInfo | None: ...

    def liveness_in_tx(self) -> list[Liveness]:
        """Runs the stall detector watches: running or lost, on the collector's clock."""
        ...

    def mark_lost_in_tx(self, run_ids: Sequence[str], now: float) -> list[str]: ...

    def add_silenced_in_tx(self, deliveries: Sequence[Delivery], reason: str) -> None:
        """Record deliveries a silence muted: status 'silenced', never claimed, the silence named."""
        ...

    def active_silences_in_tx(self, now: float) -> list[Silence]: ...

    def deliveries(self, status: str | None = None) -> list[Delivery]:
        """Every delivery (of one status), oldest first."""
        ...

    def history(self, *, run_id: str | None = None, state: str | None = None, limit: int = 100) -> list[AlertRecord]:
        """Rule alerts newest first, each with its run's name and its deliveries."""
        ...

    def user_alerts(self, *, run_id: str | None = None, limit: int = 100) -> list[UserAlert]:
        """Alerts raised by training code, newest first."""
        ...


class TokenStore(Protocol):
    """API tokens; only their hash is stored."""

    def create(self, role: str, name: str, now: float) -> tuple[int, str]:
        """A new token for ``role``: ``(id, token)``. Raises ``ValueError`` for an unknown role."""
        ...

    def verify(self, token: str, now: float) -> TokenInfo | None:
        """Who a valid, unrevoked token is; records its use (at most once a minute)."""
        ...

    def list(self) -> list[dict[str, Any]]:
        """Every token (id, name, role, prefix, created, last used, revoked), never the token."""
        ...

    def revoke(self, token_id: int, now: float) -> bool:
        """Revoke an active token; False when there is none with that id."""
        ...


class SilenceStore(Protocol):
    """Silences: notifications of matching alerts muted for a while."""

    def create(
        self,
        *,
        rule: str | None,
        run_id: str | None,
        project: str | None,
        starts_at: float,
        ends_at: float,
        comment: str,
        created_by: str,
        now: float,
    ) -> int: ...

    def list(self, now: float, *, include_ended: bool = False) -> list[dict[str, Any]]:
        """Silences newest first; by default only those not yet over (active or scheduled)."""
        ...

    def expire(self, silence_id: int, now: float) -> bool:
        """End a silence now; False when there is none still on with that id."""
        ...


class ArtifactStore(Protocol):
    """Artifact versions, their files, aliases and lineage, and the registry of stored blobs.

    Versions, aliases, uses and rejections are written only by the collector, from
    ``artifact`` events (inside ``Store.write``). The API writes the blob registry: a blob
    is registered once its bytes are committed to the blob store, and an output event is
    applied only if every file's blob is registered, so a listed version can always be
    downloaded.
    """

    def register_blob(self, sha256: str, size: int, now: float) -> bool:
        """Record a blob committed to the blob store; True when it was not known yet."""
        ...

    def blob_size(self, sha256: str) -> int | None:
        """The size of a registered blob, None when it is not registered."""
        ...

    def for_run(self, run_id: str) -> list[ArtifactVersion]:
        """Versions a run produced, oldest first, with files, aliases and consumers."""
        ...

    def used_by(self, run_id: str) -> list[ArtifactVersion]:
        """Versions a run consumed, in the order it first used them."""
        ...

    def rejected(self, run_id: str) -> list[ArtifactRejection]:
        """A run's artifact events that were not applied, oldest first."""
        ...

    def versions(
        self, *, project: str | None = None, name: str | None = None, limit: int = 100
    ) -> list[ArtifactVersion]:
        """Versions across runs, newest first (of one project, of one name)."""
        ...

    def get(self, project: str, name: str, ref: str) -> ArtifactVersion | None:
        """One version by ``latest``, a number (``3`` or ``v3``) or an alias."""
        ...

    def find(self, run_id: str, path: str, version: int | None = None) -> tuple[ArtifactVersion, str] | None:
        """Which version of the run's artifacts ``path`` (``<name>[/<file>]``) names, and the file part.

        The longest artifact name of the run that ``path`` starts with wins; without
        ``version``, the run's newest version of it. The file part is ``""`` when the path
        names the whole artifact.
        """
        ...

    def lineage(self, run_id: str) -> dict[str, Any]:
        """JSON-ready: what the run produced (with consumers) and consumed (with producers)."""
        ...

    def move_alias(
        self, project: str, name: str, alias: str, version: int, *, by: str, now: float, source: str | None = None
    ) -> AliasMove | None:
        """Point ``alias`` of ``(project, name)`` at ``version`` (a promotion), recorded in its history.

        With ``source`` (a client address, ``cli``), its ``alias.move`` audit entry is appended in
        the same transaction: a move is never committed without it. None when there is no such
        version; a move whose ``from_version`` equals ``to_version`` changed nothing and is not
        recorded. The alias must pass ``clean_alias`` (the caller checks).
        """
        ...

    def alias_history(self, project: str, name: str, alias: str | None = None, limit: int = 100) -> list[AliasMove]:
        """Every time an alias of ``(project, name)`` was set or moved, newest first."""
        ...


class AuditStore(Protocol):
    """The audit trail: changes made through the API or the CLI, appended and never changed."""

    def append(self, entry: AuditEntry) -> int:
        """Record one change; its id."""
        ...

    def list(
        self, *, since: float | None = None, who: str | None = None, action: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Entries newest first: at or after ``since``, by ``who``, of ``action`` (``token`` also matches ``token.*``)."""
        ...


class DeadLetterStore(Protocol):
    """Entries the collector could not store, with the reason."""

    def list(self, limit: int = 100) -> list[DeadLetter]:
        """Newest first."""
        ...

    def count(self) -> int: ...


# ------------------------------------------------------------------ the write path


@runtime_checkable
class WriteHook(Protocol):
    """Sees every write: inside its transaction, then after its commit or rollback (alerts use it)."""

    def __call__(self, applied: Sequence[Event], now: float) -> None:
        """Inside the write transaction, with the events it applied."""
        ...

    def after_commit(self) -> None:
        """The transaction committed (outside the store's lock)."""
        ...

    def after_rollback(self) -> None:
        """The transaction was rolled back: forget what the call inside it prepared."""
        ...


class Store(Protocol):
    """Persistence for runs, metrics, alerts and the pipeline's bookkeeping."""

    hooks: list[WriteHook]  # called in every write transaction (see ``WriteHook``)
    where: str  # where the data lives, for people: a path, or a URL without its password

    @property
    def runs(self) -> RunStore: ...

    @property
    def series(self) -> SeriesStore: ...

    @property
    def alerts(self) -> AlertStore: ...

    @property
    def tokens(self) -> TokenStore: ...

    @property
    def silences(self) -> SilenceStore: ...

    @property
    def dead_letters(self) -> DeadLetterStore: ...

    @property
    def artifacts(self) -> ArtifactStore: ...

    @property
    def audit(self) -> AuditStore: ...

    def write(self, batches: Sequence[Batch], dead: Sequence[DeadLetter], now: float) -> WriteResult:
        """Apply batches and record dead letters in one transaction; idempotent."""
        ...

    def record_failure(self, stream: str, entry_id: str) -> int:
        """Count a failed attempt at an entry (survives restarts); returns the total."""
        ...

    def clear_failures(self, entries: Sequence[tuple[str, str]]) -> None:
        """Forget the failure counts of ``(stream, entry_id)`` pairs once they are handled."""
        ...

    def watermark(self, run_id: str, writer: str) -> int:
        """Highest seq such that every seq of this writer up to it is committed (-1: none)."""
        ...

    def pending_migrations(self) -> list[str]:
        """Schema migrations this database has not had yet, in order."""
        ...

    def migrate(self) -> list[str]:
        """Apply the pending migrations in order, once even when several processes start at once; their names."""
        ...

    def ping(self) -> None:
        """Raise if the store cannot answer a query (the readiness probe)."""
        ...

    def idle(self) -> None:
        """Nothing is waiting to be committed: housekeeping that would otherwise delay a commit."""
        ...

    def close(self) -> None: ...
