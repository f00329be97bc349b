"""Framework values made loggable: nested configs flattened, numbers picked out of log dicts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def flatten(params: Mapping[Any, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys (``model.hidden_size``), so each is searchable as ``params.<key>``."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def numeric(values: Mapping[Any, Any]) -> dict[str, float]:
    """The entries of a framework's log dict that are numbers (floats, ints, numpy or 0-d tensor scalars).

    Frameworks mix strings, lists and flags into what they log; those are skipped rather than
    raised on, so a framework's odd value never stops a training job.
    """
    out: dict[str, float] = {}
    for key, value in values.items():
        if type(value) is float:
            out[str(key)] = value
        elif value is None or isinstance(value, (str, bytes, bool)):
            continue
        else:
            try:
                out[str(key)] = float(value)
            except (TypeError, ValueError, RuntimeError):  # a list, a multi-element tensor
                continue
    return out
