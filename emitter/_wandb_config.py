"""``run.config`` and ``run.summary`` as W&B scripts use them: attribute and item access, ``update``.

Both are views a run owns; every change is sent at once as ``params`` (config keys as they are,
summary keys under ``summary/``), so the store holds what the script set. Changing a config
value W&B would refuse (without ``allow_val_change=True``) is said once per key and recorded:
runwatch never raises into the training loop, and drops nothing.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ._validate import plain

SUMMARY_PREFIX = "summary/"


class UnsupportedWarning(UserWarning):
    """A W&B feature the shim does not provide: said once, the call goes on without it."""


def as_mapping(data: Any, what: str) -> dict[str, Any]:
    """A dict from a mapping, an ``argparse.Namespace`` or anything with ``__dict__`` (absl flags differ)."""
    if data is None:
        return {}
    if isinstance(data, Mapping):
        return dict(data)
    if hasattr(data, "__dict__") and not isinstance(data, type):
        return {key: value for key, value in vars(data).items() if not key.startswith("_")}
    raise TypeError(f"{what} must be a mapping (or an argparse.Namespace), got {type(data).__name__}")


class _View:
    """Shared attribute/item access over a dict held by the subclass."""

    _data: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"{type(self).__name__.lower()} has no key {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        if key.startswith("_"):
            object.__setattr__(self, key, value)
        else:
            self[key] = value

    def __setitem__(self, key: str, value: Any) -> None:  # pragma: no cover - each view defines its own
        raise NotImplementedError

    def __contains__(self, key: object) -> bool:
        return key in self._keys()

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def _keys(self) -> dict[str, Any]:
        return self._data

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def keys(self) -> list[str]:
        return list(self._keys())

    def items(self) -> list[tuple[str, Any]]:
        return [(key, self[key]) for key in self._keys()]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.items())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.as_dict()!r})"


class Config(_View):
    """A run's hyperparameters: ``config.lr``, ``config["lr"]``, ``config.update(d, allow_val_change=True)``.

    >>> run = emitter.init(project="mnist", config={"lr": 1e-3})
    >>> run.config.batch_size = 64          # sent as a param at once
    >>> run.config.update({"lr": 3e-4}, allow_val_change=True)
    >>> run.config.lr
    0.0003
    """

    def __init__(self, initial: Mapping[str, Any], send: Callable[[dict[str, Any]], None]) -> None:
        self._data = dict(initial)
        self._send = send
        self._said: set[str] = set()

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(self, data: Any, allow_val_change: bool = False) -> None:
        """Set several keys (a mapping or an ``argparse.Namespace``); one ``params`` event for the changes."""
        changed: dict[str, Any] = {}
        for key, value in as_mapping(data, "the argument of config.update()").items():
            if not isinstance(key, str) or not key:
                raise TypeError(f"config keys are non-empty strings, got {key!r}")
            new = plain(value)
            if key in self._data and self._data[key] == new:
                continue
            if key in self._data and not allow_val_change and key not in self._said:
                self._said.add(key)
                warnings.warn(
                    f"runwatch: config {key!r} changed from {self._data[key]!r} to {new!r} without "
                    "allow_val_change=True (W&B would raise here); the new value is recorded",
                    UnsupportedWarning,
                    stacklevel=3,
                )
            self._data[key] = changed[key] = new
        if changed:
            self._send(changed)

    def setdefaults(self, data: Any) -> None:
        """Set the keys not set yet (W&B's ``config.setdefaults``)."""
        self.update(
            {k: v for k, v in as_mapping(data, "the argument of config.setdefaults()").items() if k not in self._data}
        )


class Summary(_View):
    """A run's summary: the last value logged under each key, unless the script set one.

    >>> run.log({"acc": 0.91})
    >>> run.summary["acc"]
    0.91
    >>> run.summary["best_acc"] = 0.93      # stored as the param summary/best_acc
    """

    def __init__(self, last_logged: Mapping[str, Any], send: Callable[[dict[str, Any]], None]) -> None:
        self._last = last_logged
        self._data = {}
        self._send = send

    def __getitem__(self, key: str) -> Any:
        if key in self._data:
            return self._data[key]
        return self._last[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def _keys(self) -> dict[str, Any]:
        return {**self._last, **self._data}

    def update(self, data: Mapping[str, Any]) -> None:
        """Set several summary values; sent as one ``params`` event (keys under ``summary/``)."""
        values = {key: plain(value) for key, value in as_mapping(data, "the argument of summary.update()").items()}
        self._data.update(values)
        if values:
            self._send({f"{SUMMARY_PREFIX}{key}": value for key, value in values.items()})
