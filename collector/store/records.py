"""What the store's Protocols take and give: records, token roles, the schema policy, refusals.

Plain data, backend-neutral; ``base.py`` re-exports every name, so ``from collector.store.base
import RunRecord`` keeps working.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from emitter.events import Event

#: Token roles, weakest first.
ROLES = ("viewer", "writer", "admin")

#: What opening a store does about schema migrations: apply the pending ones ("migrate"),
#: refuse a database that has some (``SchemaBehind``: "require"), or open it as it is ("as-is":
#: for ``runwatch migrate`` itself).
SchemaPolicy = Literal["migrate", "require", "as-is"]


def hash_token(token: str) -> str:
    """What a store keeps of a token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


class EntryRejected(ValueError):
    """A batch the store refuses for good (a seq jump past ``MAX_SEQ_GAP``, a run past its key limit).

    Raised by ``Store.write``; the consumer dead-letters the entry with ``reason`` at once
    instead of retrying it, and commits the others.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ------------------------------------------------------------------ records


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
    watermarks: dict[tuple[str, str], int] = field(default_factory=dict)  # (run, writer) → contiguous committed seq


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
    """A run as stored, with its params and its summary of last/min/max per metric."""

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


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One transition of the alert history, with its run's name and its deliveries' outcome."""

    id: str
    rule: str
    run_id: str
    state: str
    kind: str
    severity: str
    title: str
    text: str
    metric: str | None
    value: Any  # JSON-ready: a number, "NaN"/"Infinity"/"-Infinity", or None
    step: int | None
    at: float
    payload: dict[str, Any]
    run_name: str | None
    deliveries: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class UserAlert:
    """An alert raised by training code (``run.alert()``)."""

    id: int
    run_id: str
    run_name: str | None
    ts: float
    title: str
    text: str
    level: str


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A valid, unrevoked token: who it is."""

    id: int
    role: str
    name: str


@dataclass(frozen=True, slots=True)
class ArtifactFile:
    """One file of an artifact version: its path inside the artifact, digest and size."""

    path: str
    sha256: str
    size: int


@dataclass(slots=True)
class ArtifactVersion:
    """One stored version of an artifact: every file's bytes are in the blob store.

    ``version`` counts per (project, name) from 1; ``digest`` is the single file's sha256,
    or for several files the sha256 of the manifest (``path\0sha256\0size\n`` lines, sorted).
    ``producer`` and ``consumers`` are briefs (``id``, ``name``, ``project``, ``status``).
    """

    id: int
    run_id: str
    project: str
    name: str
    version: int
    type: str
    aliases: list[str]
    metadata: dict[str, Any]
    size: int
    digest: str
    created_at: float
    writer: str
    seq: int
    files: list[ArtifactFile] = field(default_factory=list)
    producer: dict[str, Any] = field(default_factory=dict)
    consumers: list[dict[str, Any]] = field(default_factory=list)


def artifact_json(version: ArtifactVersion) -> dict[str, Any]:
    """A version as the API and CLI show it: ``path`` and each file's ``path`` are what to download."""
    return {
        "id": version.id,
        "name": version.name,
        "version": version.version,
        "project": version.project,
        "type": version.type,
        "aliases": version.aliases,
        "metadata": version.metadata,
        "size": version.size,
        "sha256": version.digest,
        "created_at": version.created_at,
        "path": version.name,
        "files": [
            {"path": f"{version.name}/{f.path}", "name": f.path, "sha256": f.sha256, "size": f.size}
            for f in version.files
        ],
        "writer": version.writer,
        "seq": version.seq,
        "producer": version.producer,
        "consumers": version.consumers,
    }


@dataclass(frozen=True, slots=True)
class ArtifactRejection:
    """An ``artifact`` event the collector could not apply, and why (never listed as downloadable)."""

    run_id: str
    writer: str
    seq: int
    name: str
    role: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class AliasMove:
    """An alias set or moved: by an ``artifact`` event of ``run_id`` (``by`` None), or promoted by someone."""

    project: str
    name: str
    alias: str
    from_version: int | None  # None: the alias was new
    to_version: int
    run_id: str  # the run that produced the version it now points at
    by: str | None
    at: float


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change made through the API or the CLI: who, when, what, from where.

    ``who`` is a token's name (or ``token N``; ``open`` when auth is off) or, from the CLI,
    the local OS user; ``source`` the client address, or ``cli``. ``action`` is dotted
    (``token.create``, ``alias.move``: ``collector/audit.py`` lists them); ``detail`` is JSON.
    """

    at: float
    who: str
    source: str
    action: str
    target: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    id: int = 0
