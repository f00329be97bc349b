"""Every point of a run as text: the one CSV and JSON Lines writer of the CLI and the API.

CSV: ``step,ts,key,value`` with CRLF line ends, timestamps and values in Python's
``repr`` (``float(text)`` gives back the same float: ``nan``, ``inf``, ``-inf``, ``-0.0``
included). A key is quoted when it holds a comma, quote or line break, or starts with
``= + - @`` (so a spreadsheet never runs it as a formula). JSON Lines spells non-finite
values as ``emitter.events.json_number`` does: ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from emitter.events import json_number

from .store.base import Point

CSV_HEADER = "step,ts,key,value\r\n"
FORMATS = ("csv", "jsonl")
_LINES_PER_CHUNK = 20_000  # lines joined per yielded piece: a streamed response writes few, large pieces


def csv_field(text: str) -> str:
    """A CSV field: quoted where needed, and always where a spreadsheet would read a formula."""
    if any(c in text for c in ',"\r\n') or text[:1] in ("=", "+", "-", "@"):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_chunks(points: Iterable[Point]) -> Iterator[str]:
    """The CSV text of ``points``, header first, in pieces of many lines."""
    yield CSV_HEADER
    lines: list[str] = []
    quoted: dict[str, str] = {}
    for point in points:
        key = quoted.get(point.key)
        if key is None:
            key = quoted[point.key] = csv_field(point.key)
        lines.append(f"{point.step},{point.ts!r},{key},{point.value!r}\r\n")
        if len(lines) >= _LINES_PER_CHUNK:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def jsonl_chunks(points: Iterable[Point]) -> Iterator[str]:
    """One JSON object per point and line: ``{"step", "ts", "key", "value"}``."""
    lines: list[str] = []
    for point in points:
        record = {"step": point.step, "ts": point.ts, "key": point.key, "value": json_number(point.value)}
        lines.append(json.dumps(record) + "\n")
        if len(lines) >= _LINES_PER_CHUNK:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def export_chunks(points: Iterable[Point], fmt: str) -> Iterator[str]:
    """``csv_chunks`` or ``jsonl_chunks`` by name."""
    if fmt == "csv":
        return csv_chunks(points)
    if fmt == "jsonl":
        return jsonl_chunks(points)
    raise ValueError(f"unknown export format {fmt!r}: one of {', '.join(FORMATS)}")
