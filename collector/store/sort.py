"""The runs sort grammar: ``field [asc|desc]`` items separated by commas, parsed into ``ORDER BY`` SQL.

Shares the filter's columns, bounds and error (``search.py``); a sort names what it orders
by but never compares, so it needs no parser of its own.
"""

from __future__ import annotations

from typing import Any

from .dialect import SQLITE, Dialect
from .search import COLUMNS, MAX_SORT, MAX_SORT_TERMS, FilterError, Query

__all__ = ["SORT_DEFAULT", "parse_sort"]

SORT_DEFAULT = "created_at desc"


def parse_sort(text: str | None, dialect: Dialect = SQLITE) -> Query:
    """``ORDER BY`` SQL for ``field [asc|desc]`` items separated by commas (``-field`` = desc).

    Missing values (a run without the metric or param) sort last either way; the run id
    breaks ties so pages are stable.
    """
    text = (text or SORT_DEFAULT).strip() or SORT_DEFAULT
    if len(text) > MAX_SORT:
        raise FilterError(f"sort longer than {MAX_SORT} characters", MAX_SORT, text)
    if text.count(",") >= MAX_SORT_TERMS:
        raise FilterError(f"more than {MAX_SORT_TERMS} sort terms", 0, text)
    parts: list[str] = []
    args: list[Any] = []

    def bind(value: Any) -> str:
        args.append(value)
        return dialect.param

    def metric(key: str) -> str:
        return f"(SELECT s.last FROM series s WHERE s.run_id = runs.id AND s.key = {bind(key)})"

    offset = 0
    for item in text.split(","):
        stripped = item.strip()
        pos = offset + (len(item) - len(item.lstrip()))
        offset += len(item) + 1
        if not stripped:
            raise FilterError("empty sort item", pos, text)
        descending = False
        if stripped.startswith("-"):
            descending, stripped = True, stripped[1:].strip()
        words = stripped.rsplit(None, 1)
        if len(words) == 2 and words[1].lower() in ("asc", "desc"):
            stripped, descending = words[0], words[1].lower() == "desc"
        head, dot, key = stripped.partition(".")
        head = head.lower()
        direction = "DESC" if descending else "ASC"
        if not dot and head in COLUMNS:
            expr = COLUMNS[head]
            parts.append(f"{expr} IS NULL, {expr} {direction}")
        elif dot and key and head == "metrics":
            parts.append(f"{metric(key)} IS NULL, {metric(key)} {direction}")
        elif dot and key and head == "params":
            null_test = dialect.param_sort(key, bind)[0]
            ordered = ", ".join(f"{expr} {direction}" for expr in dialect.param_sort(key, bind))
            parts.append(f"{null_test} IS NULL, {ordered}")
        else:
            raise FilterError(f"cannot sort by {stripped!r}", pos, text)
    parts.append("runs.id ASC")
    return Query(", ".join(parts), args)
