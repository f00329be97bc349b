"""The rollup levels (``store/format/rollups.py``) in SQLite: one upsert per commit, builds from the level below."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from ..format import rollups
from ..format.chunks import Pending

_INSERT = (
    "INSERT INTO rollups (series, level, bucket, count, nans, min, max, last_step, last, last_bits)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT = (
    _INSERT + " ON CONFLICT (series, level, bucket) DO UPDATE SET"
    " count = count + excluded.count,"
    " nans = nans + excluded.nans,"
    " min = CASE WHEN min IS NULL OR excluded.min < min THEN coalesce(excluded.min, min) ELSE min END,"
    " max = CASE WHEN max IS NULL OR excluded.max > max THEN coalesce(excluded.max, max) ELSE max END,"
    " last = CASE WHEN excluded.last_step >= last_step THEN excluded.last ELSE last END,"
    " last_bits = CASE WHEN excluded.last_step >= last_step THEN excluded.last_bits ELSE last_bits END,"
    " last_step = max(last_step, excluded.last_step)"
)


def update_rollups(
    db: sqlite3.Connection, pending: Mapping[tuple[int, int], Pending], tops: Mapping[int, tuple[int, int]]
) -> None:
    """Fold the points just written into the rollup tables (``rollups.plan``), inside the write transaction."""
    rows, builds = rollups.plan(pending, tops)
    if rows:
        db.executemany(_UPSERT, rows)
    for sid, level in builds:
        _build_level(db, sid, level)


def _build_level(db: sqlite3.Connection, sid: int, level: int) -> None:
    """A series' rows of ``level`` from its rows of the level below (the level starts being kept)."""
    below = db.execute(
        "SELECT bucket, count, nans, min, max, last_step, last, last_bits FROM rollups"
        " WHERE series = ? AND level = ? ORDER BY bucket",
        (sid, level - 1),
    ).fetchall()
    up = rollups.build_level(below)
    # rows a store written before levels were kept lazily may hold, no longer updated since
    db.execute("DELETE FROM rollups WHERE series = ? AND level = ?", (sid, level))
    db.executemany(_INSERT, [(sid, level, bucket, *agg) for bucket, agg in up.items()])
