"""Input checks at the call: user values in, plain contract-safe data out, or a clear error.

Programming errors raise ``TypeError``/``ValueError`` with a message naming the field or
key, so a bad value fails in training code instead of reaching the collector's
dead-letter stream. Nothing here touches the network.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from typing import Any

import msgpack

from .events import ENDED_STATUSES, MAX_KEY_LENGTH, MAX_PAYLOAD_BYTES, RunStatus

ALERT_LEVELS = ("info", "warn", "error", "critical")
_ENDED_IN_ORDER = [status.value for status in RunStatus if status in ENDED_STATUSES]


def check_project(project: Any) -> str:
    """A project names the run's group of runs: a non-empty string."""
    if not isinstance(project, str) or not project.strip():
        raise ValueError("project must be a non-empty string")
    return project


def check_run_id(run_id: Any) -> str | None:
    """A run id given to resume a run (None: a new run)."""
    if run_id is not None and (not isinstance(run_id, str) or not run_id or len(run_id) > MAX_KEY_LENGTH):
        raise ValueError(f"run_id must be a non-empty string of at most {MAX_KEY_LENGTH} characters")
    return run_id


def as_step(step: Any) -> int:
    """A step as an ``int``: anything with ``__index__`` (numpy integers too), never a float."""
    try:
        return operator.index(step)
    except TypeError:
        raise TypeError(f"step must be an integer, got {type(step).__name__}: {step!r:.60}") from None


def to_float(key: str, value: Any) -> float:
    """A metric value as a ``float``: numbers, numpy scalars, anything with ``__float__``; never text."""
    if isinstance(value, (str, bytes, bytearray)) or value is None:
        raise TypeError(f"metric {key!r}: {type(value).__name__} {value!r:.60} is not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"metric {key!r}: {type(value).__name__} {value!r:.60} is not a number") from None


def admit_key(known: set[str], key: Any, limit: int, run_id: str) -> None:
    """Add a metric name not seen before to ``known``, if it is a valid name and the run has room for it."""
    if not isinstance(key, str):
        raise TypeError(f"metric names must be strings, got {type(key).__name__}: {key!r:.60}")
    if not key:
        raise ValueError("metric names must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"metric name {key[:40]!r}... is {len(key)} characters; the limit is {MAX_KEY_LENGTH}")
    if len(known) >= limit:
        raise ValueError(
            f"run {run_id} already has {len(known)} distinct metric names, the limit "
            f"(RUNWATCH_MAX_KEYS={limit}); {key[:60]!r} was not logged"
        )
    known.add(key)


def optional_str(field: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a string, got {type(value).__name__}")
    return value


def tag_list(tags: Iterable[str]) -> list[str]:
    """Tags as a list of non-empty strings (a single string is one tag, not its characters)."""
    if isinstance(tags, str):
        tags = [tags]
    out = []
    for tag in tags:
        if not isinstance(tag, str) or not tag or len(tag) > MAX_KEY_LENGTH:
            raise ValueError(f"tags must be non-empty strings of at most {MAX_KEY_LENGTH} characters, got {tag!r:.60}")
        out.append(tag)
    return out


def bounded_text(field: str, text: Any) -> str:
    """Free text (notes, alert title and text) of at most ``MAX_PAYLOAD_BYTES`` encoded."""
    if not isinstance(text, str):
        raise TypeError(f"{field} must be a string, got {type(text).__name__}")
    if len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"{field} is {len(text.encode())} bytes; the limit is {MAX_PAYLOAD_BYTES} (1 MiB)")
    return text


def plain(value: Any, depth: int = 0) -> Any:
    """Config values as MessagePack-safe plain data (numpy scalars → numbers, other objects → str)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if depth > 32:
        raise ValueError("config is nested more than 32 levels deep")
    if isinstance(value, Mapping):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v, depth + 1) for v in value]
    item = getattr(value, "item", None)
    if callable(item):
        try:
            scalar = item()
        except (TypeError, ValueError):
            scalar = None
        if isinstance(scalar, (bool, int, float, str)):
            return scalar
    return str(value)


def bounded_mapping(field: str, mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A config or params mapping as plain data of at most ``MAX_PAYLOAD_BYTES`` encoded, with valid keys."""
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{field} must be a mapping, got {type(mapping).__name__}")
    data = plain(mapping)
    size = len(msgpack.packb(data, use_bin_type=True))
    if size > MAX_PAYLOAD_BYTES:
        raise ValueError(f"{field} is {size} bytes encoded; the limit is {MAX_PAYLOAD_BYTES} (1 MiB)")
    for key in data:
        if not key or len(key) > MAX_KEY_LENGTH:
            raise ValueError(f"{field} keys must be non-empty and at most {MAX_KEY_LENGTH} characters: {key[:40]!r}")
    return data  # type: ignore[no-any-return]


def alert_level(level: Any) -> str:
    if level not in ALERT_LEVELS:
        raise ValueError(f"alert level must be one of {', '.join(ALERT_LEVELS)}, got {level!r}")
    return level  # type: ignore[no-any-return]


def ended_status(status: Any) -> str:
    """A status ``finish()`` may record: one of the contract's ``ENDED_STATUSES``."""
    if not isinstance(status, str) or status not in ENDED_STATUSES:
        raise ValueError(f"status must be {', '.join(_ENDED_IN_ORDER[:-1])} or {_ENDED_IN_ORDER[-1]}, got {status!r}")
    return status
