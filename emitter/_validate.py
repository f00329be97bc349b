"""Input checks at the call: user values in, plain contract-safe data out, or a clear error.

Every check raises ``TypeError``/``ValueError`` with a message naming the field or key, so
nothing malformed reaches the collector's dead-letter stream. ``Run.log()`` turns the
errors of metric *data* (values, keys) into a named warning and a count unless
``RUNWATCH_STRICT=1``; everything else is raised at the call. Nothing here touches the
network, and no NumPy, torch or JAX is imported: their scalars are read by duck typing.
"""

from __future__ import annotations

import math
import operator
import sys
import time
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import msgpack

from .events import ENDED_STATUSES, MAX_KEY_LENGTH, MAX_PAYLOAD_BYTES, RunStatus

ALERT_LEVELS = ("info", "warn", "error", "critical")
DROPPED_PARAM = "runwatch/dropped_values"  # the run's param counting, per key, what log() dropped
MAX_NESTING = 32
_MAX_DROPPED_NAMES = 100  # past it, further keys are counted together (a key per step must not grow a param)
_OTHER_KEYS = "(other keys)"
_REPORT_EVERY = 10.0  # seconds between reports of counts that only grew
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


def to_float(key: Any, value: Any) -> float:
    """A metric value as a ``float``, or ``TypeError`` naming the key and why.

    Numbers and bools; NumPy, torch and JAX scalars, 0-d tensors and any array of exactly one
    element (through ``.item()``, never ``float(array)``, which NumPy deprecates for arrays);
    anything else with ``__float__`` (``Decimal``, ``Fraction``). Never text, ``None`` or an
    array of several values.
    """
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (str, bytes, bytearray)) or value is None:
        raise _not_a_number(key, value)
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            raise TypeError(f"metric {key!r}: int {value!r:.60} is too large for a float") from None
    count = _element_count(value)
    if count is not None:
        if count != 1:
            raise TypeError(
                f"metric {key!r}: {type(value).__name__} of {count} values is not one number (log a reduction)"
            )
        try:
            scalar = value.item()
        except Exception:  # noqa: BLE001 - whatever a foreign array raises, the value is not usable
            raise _not_a_number(key, value) from None
        return to_float(key, scalar)
    try:
        return float(value)
    except Exception:  # noqa: BLE001 - a foreign __float__ may raise anything
        raise _not_a_number(key, value) from None


def _element_count(value: Any) -> int | None:
    """How many values an array or tensor holds (torch: ``numel()``; NumPy, JAX: ``size``); None if not one."""
    numel = getattr(value, "numel", None)
    if callable(numel) and hasattr(value, "item"):
        try:
            return int(numel())
        except Exception:  # noqa: BLE001 - not the torch protocol after all
            return None
    size = getattr(value, "size", None)
    if isinstance(size, int) and hasattr(value, "item"):
        return size
    return None


def _not_a_number(key: Any, value: Any) -> TypeError:
    try:
        shown = f"{value!r:.60}"
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the real problem
        shown = "(no repr)"
    return TypeError(f"metric {key!r}: {type(value).__name__} {shown} is not a number")


def nested_name(prefix: Any, key: Any, depth: int) -> str:
    """The flat name of ``key`` inside the mapping logged as ``prefix``: ``{"train": {"loss": 1}}`` → ``train/loss``."""
    if not isinstance(prefix, str):
        raise TypeError(f"metric names must be strings, got {type(prefix).__name__}: {prefix!r:.60}")
    if depth >= MAX_NESTING:
        raise ValueError(f"metric {prefix[:60]!r} is nested more than {MAX_NESTING} levels deep")
    if not isinstance(key, str):
        raise TypeError(f"metric names must be strings, got {type(key).__name__}: {key!r:.60} (in {prefix!r:.60})")
    if not key:
        raise ValueError(f"metric names must not be empty (in {prefix!r:.60})")
    return f"{prefix}/{key}"


class DroppedValues:
    """What ``log()`` dropped, per key: one warning per key, counts reported in the run's params.

    >>> dropped = DroppedValues("resnet-1")
    >>> dropped.add("caption", TypeError("metric 'caption': str 'a cat' is not a number"))  # warns
    True
    >>> dropped.report()
    {'runwatch/dropped_values': {'caption': 1}}
    """

    def __init__(self, run_name: str) -> None:
        self.counts: dict[str, int] = {}
        self._run_name = run_name
        self._reported_at = -math.inf
        self._unreported = False

    def add(self, key: Any, problem: Exception) -> bool:
        """Count one dropped value (warning on a key's first); True when the counts should be reported now."""
        name = _shown_name(key)
        if name not in self.counts and len(self.counts) >= _MAX_DROPPED_NAMES:
            name = _OTHER_KEYS
        count = self.counts.get(name, 0)
        self.counts[name] = count + 1
        self._unreported = True
        if count == 0:
            warnings.warn(
                f"runwatch: {problem}; dropped from run {self._run_name!r} (a key warns once; counted in the "
                f"run's params as {DROPPED_PARAM}; RUNWATCH_STRICT=1 raises instead)",
                UserWarning,
                stacklevel=_outside_the_emitter(),
            )
            return True
        return time.monotonic() - self._reported_at >= _REPORT_EVERY

    def report(self) -> dict[str, Any] | None:
        """The params to send, if the counts changed since the last report."""
        if not self._unreported:
            return None
        self._unreported = False
        self._reported_at = time.monotonic()
        return {DROPPED_PARAM: dict(self.counts)}


def _shown_name(key: Any) -> str:
    if isinstance(key, str) and key:
        return key if len(key) <= 120 else key[:119] + "…"
    return repr(key)[:120]


def _outside_the_emitter() -> int:
    """The ``stacklevel`` of the first frame outside this package, so a warning names the user's line."""
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "emitter":
        frame = frame.f_back
        level += 1
    return level


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
