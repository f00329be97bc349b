"""Exact float64 round trips through REAL columns (SQLite, and PostgreSQL alike).

SQLite turns a NaN into NULL and -0.0 into 0, so where a value is stored as REAL its
exact bit pattern goes into a ``*_bits`` INTEGER column whenever it is one of those.
PostgreSQL's float8 keeps -0.0 and NaN but not a NaN's payload (its text form is plain
``NaN``), so the PostgreSQL store uses the same two columns: one encoding, one decoder,
and a NaN written by either backend comes back with the bits it was logged with.
"""

from __future__ import annotations

import math
import struct

_DOUBLE = struct.Struct("<d")
_INT64 = struct.Struct("<q")


def float_bits(value: float) -> int:
    return _INT64.unpack(_DOUBLE.pack(value))[0]  # type: ignore[no-any-return]


def bits_float(bits: int) -> float:
    return _DOUBLE.unpack(_INT64.pack(bits))[0]  # type: ignore[no-any-return]


def needs_bits(value: float) -> bool:
    """True for the values SQLite cannot keep exactly: NaN (any payload) and -0.0."""
    return value != value or (value == 0.0 and math.copysign(1.0, value) < 0)


def to_columns(value: float) -> tuple[float | None, int | None]:
    """``(real, bits)`` for a REAL column and its bits column."""
    if needs_bits(value):
        return (None if value != value else value), float_bits(value)
    return value, None


def from_columns(value: float | None, bits: int | None) -> float:
    """The exact float stored as ``to_columns`` wrote it."""
    if bits is not None:
        return bits_float(bits)
    return math.nan if value is None else value
