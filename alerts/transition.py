"""What the rule engine produces and reads: ``Transition`` (one notification to send) and ``RunInfo``.

Plain frozen data, shared by the event engine (``engine.py``), the timers
(``timers.py``), the outbox and the notifiers. ``Transition.to_dict`` is what the
outbox stores, so it is strict JSON and reads back every spelling it ever wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from emitter.events import NONFINITE_JSON, json_number

__all__ = ["RunInfo", "RunLookup", "Transition", "number_from_json"]

# What payloads stored before the contract's spelling wrote (``repr``): still read back.
_REPR_NONFINITE = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}


def number_from_json(value: float | int | str) -> float:
    """A stored number: ``"NaN"``/``"Infinity"``/``"-Infinity"`` (``json_number``), or the older ``'nan'``/``'inf'``."""
    if isinstance(value, str):
        found = NONFINITE_JSON.get(value, _REPR_NONFINITE.get(value))
        if found is None:
            raise ValueError(f"not a number: {value[:40]!r}")
        return found
    return float(value)


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What rules select runs by, and what messages name them with."""

    run_id: str
    project: str | None = None
    name: str | None = None
    tags: frozenset[str] = frozenset()


RunLookup = Mapping[str, RunInfo] | Callable[[str], RunInfo | None]


@dataclass(frozen=True, slots=True)
class Transition:
    """One alert notification to send: an episode firing, repeating or resolved.

    ``key`` is the dedup key of the (rule, run[, subject]) and ``id`` names this
    notification uniquely (``key#episode.seq``): inserting it twice changes nothing.
    """

    rule: str
    run_id: str
    state: Literal["firing", "resolved"]
    kind: str
    episode: int
    seq: int
    at: float
    severity: str
    notify: tuple[str, ...]
    title: str
    text: str = ""
    repeat: bool = False
    subject: str = ""
    metric: str | None = None
    value: float | None = None
    step: int | None = None
    run_name: str | None = None
    project: str | None = None
    digest: dict[str, Any] | None = None  # kind "digest": the report (``alerts.digest_report``)

    @property
    def key(self) -> str:
        base = f"{self.rule}|{self.run_id}"
        return f"{base}|{self.subject}" if self.subject else base

    @property
    def id(self) -> str:
        return f"{self.key}#{self.episode}.{self.seq}"

    def to_dict(self) -> dict[str, Any]:
        """Strict JSON: a non-finite ``value`` is spelled as the event contract does (``"NaN"``, ``"Infinity"``)."""
        data = asdict(self)
        data["notify"] = list(self.notify)
        data["value"] = json_number(self.value)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transition:
        values = dict(data)
        values["notify"] = tuple(values.get("notify", ()))
        if values.get("value") is not None:
            values["value"] = number_from_json(values["value"])
        return cls(**values)
