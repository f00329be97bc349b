"""The event contract: kinds, envelope, wire codec, stream keys and limits.

Everything that reads or writes the event stream imports the contract from here,
and nothing else formats a Redis key (``Keys`` builds every one of them).

On the wire one Redis stream entry carries one batch of events of one run and one
writer, with the fields::

    v    contract version (``CONTRACT_VERSION``)
    run  the run id
    b    MessagePack of ``[writer, [[seq, ts, kind, payload], ...]]``

MessagePack carries float64 bit patterns unchanged, so NaN, +Inf, -Inf and -0.0
round-trip exactly (JSON cannot carry them).
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

import msgpack
from redis.typing import EncodableT, FieldT

CONTRACT_VERSION = 1
DEFAULT_PREFIX = "runwatch"
DEFAULT_SHARDS = 4
GROUP = "collectors"

MAX_KEY_LENGTH = 250
MAX_KEYS_PER_RUN = 10_000
MAX_PAYLOAD_BYTES = 1 << 20  # config, notes, alert text
MAX_ENTRY_BYTES = 16 << 20  # a stream entry the collector accepts at all
MAX_EVENTS_PER_ENTRY = 2_000
#: How far past what a writer has committed its next seq may be: a gap comes only from entries
#: the collector dead-lettered (at most MAX_EVENTS_PER_ENTRY each), so a jump past this is a
#: forged or broken entry, refused before it can move the writer's watermark.
MAX_SEQ_GAP = 1_000_000
MAX_WRITER_LENGTH = 64


class Kind(StrEnum):
    """What an event says; the payload's shape follows from it."""

    RUN_START = "run.start"
    PARAMS = "params"
    METRICS = "metrics"
    SYSTEM = "system"
    STATUS = "status"
    HEARTBEAT = "heartbeat"
    ARTIFACT = "artifact"
    TAGS = "tags"
    NOTE = "note"
    ALERT = "alert"


class RunStatus(StrEnum):
    """A run's status as stored. ``lost`` is set by the collector, never emitted."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    KILLED = "killed"
    LOST = "lost"


EMITTED_STATUSES = frozenset({RunStatus.RUNNING, RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED})
#: A run in one of these has ended by its own account (``lost`` is the collector's verdict, and a lost run may resume).
ENDED_STATUSES = frozenset({RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED})
#: Kinds whose payload is ``{"step": int, "values": {name: float}}``: stored, charted and exported as series.
VALUE_KINDS = frozenset({Kind.METRICS, Kind.SYSTEM})
_KINDS = frozenset(k.value for k in Kind)
_WRITER = re.compile(r"[A-Za-z0-9_.-]+")


class Event(NamedTuple):
    """One decoded event: the envelope plus its payload."""

    run_id: str
    writer: str
    seq: int
    ts: float
    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Batch:
    """One decoded stream entry: events of one run from one writer, in seq order."""

    run_id: str
    writer: str
    events: list[Event]

    @property
    def first_seq(self) -> int:
        return self.events[0].seq

    @property
    def last_seq(self) -> int:
        return self.events[-1].seq


class ContractError(ValueError):
    """A stream entry that does not follow the contract; ``reason`` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True, slots=True)
class Keys:
    """Builds every Redis key runwatch uses, under one prefix.

    >>> keys = Keys("runwatch")
    >>> keys.stream(3)
    'runwatch:{3}:events'

    Stream keys carry a hash tag so the shards spread over a Redis Cluster.
    """

    prefix: str = DEFAULT_PREFIX

    def stream(self, shard: int) -> str:
        return f"{self.prefix}:{{{shard}}}:events"

    def streams(self, shards: int) -> list[str]:
        return [self.stream(i) for i in range(shards)]

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}:dead"

    @property
    def alerts(self) -> str:
        """Rule-engine alerts the collector committed, for live views (not part of the event contract)."""
        return f"{self.prefix}:alerts"

    @property
    def commits(self) -> str:
        """The pub/sub channel the collector PUBLISHes to after setting committed watermarks: a cue to
        re-read them (the API's write-then-wait), never their value (the watermark keys are the truth)."""
        return f"{self.prefix}:commits"

    @property
    def shards(self) -> str:
        """Where the collector publishes its shard count for emitters to read."""
        return f"{self.prefix}:shards"

    def committed(self, shard: int, run_id: str, writer: str) -> str:
        """The committed-seq watermark of one writer of one run, published by the collector.

        Keyed by (run, writer), never by writer alone: an entry can move only the watermark of
        the run it names. It carries its run's shard hash tag, so it lives in the slot of the
        stream it acknowledges (one Cluster slot per acknowledgement). A writer id has no ``:``
        (the contract checks it), so ``<writer>:<run id>`` splits one way only.
        """
        return f"{self.prefix}:{{{shard}}}:committed:{writer}:{run_id}"

    def request(self, shard: int, digest: str) -> str:
        """An HTTP writer's record of one write request (the MLflow API), so a retry of it is stored once.

        In the slot of the run's shard stream, so the check and the XADD are one atomic script.
        """
        return f"{self.prefix}:{{{shard}}}:request:{digest}"


def parse_stream_id(entry_id: str | bytes) -> tuple[int, int]:
    """A Redis stream id ``"<ms>-<seq>"`` as a tuple that orders like the stream (``"<ms>"`` alone: seq 0)."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def stream_id_seconds(entry_id: str | bytes) -> float:
    """When Redis added the entry, in Unix seconds (the id's millisecond part)."""
    return parse_stream_id(entry_id)[0] / 1000.0


def shard_for(run_id: str, shards: int) -> int:
    """A run's events always go to the same shard: a stable hash of its id."""
    return zlib.crc32(run_id.encode()) % shards


# ------------------------------------------------------------ JSON numbers

#: JSON has no literal for non-finite floats; runwatch (and MLflow's client) spell them so everywhere.
NONFINITE_JSON: dict[str, float] = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def json_number(value: float | None) -> float | str | None:
    """A float for JSON: finite as is, non-finite as ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``."""
    if value is None or value - value == 0.0:  # finite (inf - inf and nan - nan are nan)
        return value
    if value != value:
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def parse_json_number(value: Any) -> float:
    """The float a JSON value stands for: a number, or one of the ``NONFINITE_JSON`` spellings.

    Raises ``ValueError`` for anything else (a bool is not a number here).
    """
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value in NONFINITE_JSON:
        return NONFINITE_JSON[value]
    raise ValueError(f"not a number: {str(value)[:40]!r} (non-finite values are 'NaN', 'Infinity', '-Infinity')")


# -------------------------------------------------------------------------- codec


def entry_fields(run_id: str, body: bytes) -> dict[FieldT, EncodableT]:
    """The stream entry for an encoded body (the only place the fields are spelled)."""
    return {"v": CONTRACT_VERSION, "run": run_id, "b": body}


def encode_entry(run_id: str, writer: str, events: list[list[Any]]) -> dict[FieldT, EncodableT]:
    """Stream entry fields for ``events`` given as ``[seq, ts, kind, payload]`` lists."""
    return entry_fields(run_id, encode_body(writer, events))


def encode_body(writer: str, events: list[list[Any]]) -> bytes:
    return msgpack.packb([writer, events], use_bin_type=True)  # type: ignore[no-any-return]


def decode_entry(fields: Mapping[bytes, bytes]) -> Batch:
    """Decode and validate one stream entry, raising ``ContractError`` with the reason."""
    version = fields.get(b"v")
    if version is None or fields.get(b"run") is None or fields.get(b"b") is None:
        raise ContractError(f"missing field(s): {sorted(k.decode('utf-8', 'replace') for k in fields)}")
    if version != str(CONTRACT_VERSION).encode():
        raise ContractError(f"unsupported contract version {version[:20]!r} (expected {CONTRACT_VERSION})")
    body = fields[b"b"]
    if len(body) > MAX_ENTRY_BYTES:
        raise ContractError(f"entry of {len(body)} bytes exceeds the {MAX_ENTRY_BYTES} byte limit")
    try:
        run_id = fields[b"run"].decode()
    except UnicodeDecodeError:
        raise ContractError("run id is not UTF-8") from None
    try:
        decoded = msgpack.unpackb(body, raw=False, strict_map_key=True)
    except Exception as exc:  # noqa: BLE001 - msgpack raises several unrelated types
        raise ContractError(f"undecodable MessagePack body: {type(exc).__name__}: {exc}") from None
    if not (isinstance(decoded, list) and len(decoded) == 2 and isinstance(decoded[0], str)):
        raise ContractError("body is not [writer, events]")
    writer, raw_events = decoded
    if not writer or len(writer) > MAX_WRITER_LENGTH or not _WRITER.fullmatch(writer):
        raise ContractError(f"writer must be 1 to {MAX_WRITER_LENGTH} of A-Z a-z 0-9 _ . -, got {writer[:80]!r}")
    if not run_id or len(run_id) > MAX_KEY_LENGTH:
        raise ContractError("run id is empty or too long")
    if not isinstance(raw_events, list) or not raw_events:
        raise ContractError("events is not a non-empty list")
    if len(raw_events) > MAX_EVENTS_PER_ENTRY:
        raise ContractError(f"{len(raw_events)} events in one entry; the limit is {MAX_EVENTS_PER_ENTRY}")
    events: list[Event] = []
    previous = -1
    for index, raw in enumerate(raw_events):
        event = _decode_event(run_id, writer, raw, index)
        if event.seq <= previous:
            raise ContractError(f"event {index}: seq {event.seq} not increasing within the batch")
        previous = event.seq
        events.append(event)
    return Batch(run_id, writer, events)


def _decode_event(run_id: str, writer: str, raw: Any, index: int) -> Event:
    if not (isinstance(raw, list) and len(raw) == 4):
        raise ContractError(f"event {index}: not [seq, ts, kind, payload]")
    seq, ts, kind, payload = raw
    if type(seq) is not int or seq < 0:
        raise ContractError(f"event {index}: seq must be a non-negative integer, got {type(seq).__name__}")
    if type(ts) is not float or not math.isfinite(ts):
        raise ContractError(f"event {index}: ts must be a finite float")
    if kind not in _KINDS:
        raise ContractError(f"event {index}: unknown kind {str(kind)[:40]!r}")
    if not isinstance(payload, dict):
        raise ContractError(f"event {index}: payload must be a map")
    problem = _PAYLOAD_CHECKS[kind](payload)
    if problem:
        raise ContractError(f"event {index} ({kind}): {problem}")
    return Event(run_id, writer, seq, ts, kind, payload)


def _check_values(payload: dict[str, Any]) -> str | None:
    step = payload.get("step")
    values = payload.get("values")
    if type(step) is not int:
        return "step must be an integer"
    if not isinstance(values, dict) or not values:
        return "values must be a non-empty map"
    # C-level scans first (this runs for every point the collector reads); details only on failure
    if set(map(type, values)) == _STR and set(map(type, values.values())) == _FLOAT:
        lengths = set(map(len, values))
        if min(lengths) > 0 and max(lengths) <= MAX_KEY_LENGTH:
            return None
    for key, value in values.items():
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
            return f"bad metric key {str(key)[:40]!r}"
        if type(value) is not float:
            return f"value of {key[:40]!r} is not a float"
    return None


_STR = {str}
_FLOAT = {float}


def _check_run_start(payload: dict[str, Any]) -> str | None:
    if not isinstance(payload.get("project"), str) or not payload["project"]:
        return "project must be a non-empty string"
    if not isinstance(payload.get("name"), str):
        return "name must be a string"
    for field in ("config", "env"):
        if not isinstance(payload.get(field, {}), dict):
            return f"{field} must be a map"
    if not isinstance(payload.get("tags", []), list):
        return "tags must be a list"
    return None


def _check_status(payload: dict[str, Any]) -> str | None:
    if payload.get("status") not in EMITTED_STATUSES:
        return f"unknown status {str(payload.get('status'))[:20]!r}"
    return None


def _check_map(field: str) -> Any:
    def check(payload: dict[str, Any]) -> str | None:
        return None if isinstance(payload.get(field), dict) else f"{field} must be a map"

    return check


def _check_str(*fields: str) -> Any:
    def check(payload: dict[str, Any]) -> str | None:
        for field in fields:
            if not isinstance(payload.get(field), str):
                return f"{field} must be a string"
        return None

    return check


def _check_tags(payload: dict[str, Any]) -> str | None:
    tags = payload.get("tags")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return "tags must be a list of strings"
    return None


def _check_artifact(payload: dict[str, Any]) -> str | None:
    """Types only: ``{name, uri, size, sha256}`` plus the optional stored-artifact fields.

    Whether names and paths are safe, and whether the bytes are stored, the collector
    decides when it applies the event (a rejection with the reason, never a dead letter:
    the rest of the entry is fine).
    """
    if not isinstance(payload.get("name"), str) or not isinstance(payload.get("uri"), str):
        return "name and uri must be strings"
    size = payload.get("size")
    if size is not None and (type(size) is not int or size < 0):
        return "size must be a non-negative integer"
    for field in ("sha256", "type", "project"):
        if payload.get(field) is not None and not isinstance(payload[field], str):
            return f"{field} must be a string"
    aliases = payload.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        return "aliases must be a list of strings"
    if not isinstance(payload.get("metadata", {}), dict):
        return "metadata must be a map"
    if payload.get("role", "output") not in ("output", "input"):
        return "role must be 'output' or 'input'"
    version = payload.get("version")
    if version is not None and (type(version) is not int or version < 1):
        return "version must be a positive integer"
    files = payload.get("files", [])
    if not isinstance(files, list):
        return "files must be a list"
    for index, item in enumerate(files):
        if not (
            isinstance(item, dict)
            and isinstance(item.get("path"), str)
            and isinstance(item.get("sha256"), str)
            and type(item.get("size")) is int
            and item["size"] >= 0
        ):
            return f"files[{index}] must be {{path: str, sha256: str, size: int >= 0}}"
    return None


_PAYLOAD_CHECKS = {
    Kind.RUN_START.value: _check_run_start,
    Kind.PARAMS.value: _check_map("params"),
    Kind.METRICS.value: _check_values,
    Kind.SYSTEM.value: _check_values,
    Kind.STATUS.value: _check_status,
    Kind.HEARTBEAT.value: lambda payload: None,
    Kind.ARTIFACT.value: _check_artifact,
    Kind.TAGS.value: _check_tags,
    Kind.NOTE.value: _check_str("text"),
    Kind.ALERT.value: _check_str("title", "text", "level"),
}
