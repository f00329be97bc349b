"""The engine's memory between events: one small slot per (rule, run[, subject]).

The collector stores it in the same transaction as the events that changed it, so
after a crash the engine resumes exactly where the committed events left it: no alert
is lost and none repeated. It is plain data (``to_dict``/``to_json``), keeps only
what a rule needs to decide its next transition, and forgets what no longer matters
(``prune``, ``forget_run``).

>>> state = AlertState()
>>> AlertState.from_json(state.to_json()) == state
True
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from alerts.transition import number_from_json
from emitter.events import json_number

__all__ = ["AlertState", "Slot", "SlotKey"]

STATE_VERSION = 1
SlotKey = tuple[str, str, str]  # (rule, run_id, subject); subject is "" except for user alerts


@dataclass(slots=True)
class Slot:
    """What one rule remembers about one run."""

    firing: bool = False  # an episode is open (condition rules and timers)
    episode: int = 0  # episodes so far; the open or last one
    seq: int = 0  # notifications sent in this episode: 0 first, then repeats, then resolved
    since: float | None = None  # when the open episode started (collector clock)
    notified_at: float | None = None  # last notification, for repeat_interval
    streak: int = 0  # consecutive matching points (for: N)
    best: float | None = None  # no_improvement / new_best
    since_best: int = 0  # points since the best (no_improvement patience)
    value: float | None = None  # the point that fired or last matched, shown in repeats
    step: int | None = None
    last: str | None = None  # last status seen (status rules)

    def to_dict(self) -> dict[str, Any]:
        """Only fields that differ from the default: most slots are two or three keys."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and (value != f.default or isinstance(value, float) and math.isnan(value)):
                out[f.name] = _float_out(value) if isinstance(value, float) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Slot:
        slot = cls()
        for name, value in data.items():
            if name in ("best", "value", "since", "notified_at") and value is not None:
                value = number_from_json(value)
            setattr(slot, name, value)
        return slot


@dataclass
class AlertState:
    """Every slot, keyed by (rule name, run id, subject)."""

    slots: dict[SlotKey, Slot] = field(default_factory=dict)
    _dirty: set[SlotKey] = field(default_factory=set, repr=False, compare=False)
    _per_run: dict[tuple[str, str], int] = field(default_factory=dict, repr=False, compare=False)  # (rule, run): slots

    def __post_init__(self) -> None:
        for rule, run_id, _subject in self.slots:
            self._per_run[(rule, run_id)] = self._per_run.get((rule, run_id), 0) + 1

    def has_slots(self, rule: str, run_id: str) -> bool:
        """Whether the rule remembers anything about the run (any subject): the engine's fast path."""
        return (rule, run_id) in self._per_run

    def slot(self, rule: str, run_id: str, subject: str = "") -> Slot:
        """The slot for a key, created empty on first use; marked as changed."""
        key = (rule, run_id, subject)
        found = self.slots.get(key)
        if found is None:
            found = self.slots[key] = Slot()
            self._per_run[(rule, run_id)] = self._per_run.get((rule, run_id), 0) + 1
        self._dirty.add(key)
        return found

    def drop(self, key: SlotKey) -> None:
        if self.slots.pop(key, None) is not None:
            self._dirty.add(key)
            rule_run = (key[0], key[1])
            left = self._per_run[rule_run] - 1
            if left:
                self._per_run[rule_run] = left
            else:
                del self._per_run[rule_run]

    def drain_changes(self) -> list[tuple[SlotKey, dict[str, Any] | None]]:
        """Slots touched since the last drain: ``(key, data)``, data ``None`` for a deleted slot.

        For a store that keeps one row per slot instead of the whole ``to_json()``:
        upsert the rows (delete where data is ``None``, or where it is ``{}``) in the
        events' transaction; load with ``AlertState.from_rows``.
        """
        out = [(key, self.slots[key].to_dict() if key in self.slots else None) for key in sorted(self._dirty)]
        self._dirty.clear()
        return out

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, str, dict[str, Any]]]) -> AlertState:
        """Rebuild from ``(rule, run_id, subject, data)`` rows as written from ``drain_changes``."""
        return cls({(rule, run, subject): Slot.from_dict(data) for rule, run, subject, data in rows})

    def load_runs(self, run_ids: Iterable[str], rows: Iterable[tuple[str, str, str, dict[str, Any]]]) -> None:
        """Replace what is kept about these runs by ``rows`` (as stored), changing nothing to save.

        For a collector sharing runs with another one: the stored state is the truth.
        """
        runs = set(run_ids)
        for key in [key for key in self.slots if key[1] in runs]:
            del self.slots[key]
            self._dirty.discard(key)
            rule_run = (key[0], key[1])
            left = self._per_run[rule_run] - 1
            if left:
                self._per_run[rule_run] = left
            else:
                del self._per_run[rule_run]
        for rule, run_id, subject, data in rows:
            if run_id in runs:
                self.slots[(rule, run_id, subject)] = Slot.from_dict(data)
                self._per_run[(rule, run_id)] = self._per_run.get((rule, run_id), 0) + 1

    def get(self, rule: str, run_id: str, subject: str = "") -> Slot | None:
        return self.slots.get((rule, run_id, subject))

    def firing(self) -> Iterator[tuple[SlotKey, Slot]]:
        """Open episodes: what ``repeat_interval`` applies to and the dashboard shows."""
        return ((key, slot) for key, slot in self.slots.items() if slot.firing)

    def forget_run(self, run_id: str) -> None:
        """Drop everything about a run (deleted or archived by the collector)."""
        for key in [key for key in self.slots if key[1] == run_id]:
            self.drop(key)

    def copy(self) -> AlertState:
        """A deep copy: evaluate on the copy, keep it only if the transaction commits."""
        return AlertState.from_dict(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": STATE_VERSION,
            "slots": [
                [rule, run, subject, data]
                for (rule, run, subject), slot in self.slots.items()
                if (data := slot.to_dict())  # an all-default slot is the same as no slot
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> AlertState:
        if not data:
            return cls()
        if data.get("v") != STATE_VERSION:
            raise ValueError(f"unsupported alert state version {data.get('v')!r}")
        return cls({(rule, run, subject): Slot.from_dict(slot) for rule, run, subject, slot in data["slots"]})

    def to_json(self) -> str:
        """Strict JSON (no NaN literals: non-finite floats are written as strings)."""
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes | None) -> AlertState:
        return cls.from_dict(json.loads(text)) if text else cls()

    def __repr__(self) -> str:
        firing = sum(1 for _ in self.firing())
        return f"<AlertState slots={len(self.slots)} firing={firing}>"


def _float_out(value: float) -> float | str:
    return value if math.isfinite(value) else str(json_number(value))  # "NaN", "Infinity", "-Infinity"
