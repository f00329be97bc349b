"""Multi-resolution summaries of metric series, kept up to date as points arrive.

(Placeholder until the live-monitoring work fills it in: called inside the write
transaction with the rows just inserted.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence


def update_rollups(db: sqlite3.Connection, rows: Sequence[tuple[int, int, float, float | None, int | None]]) -> None:
    """Fold newly inserted points ``(series, step, ts, value, bits)`` into the rollup tables."""
    return None
