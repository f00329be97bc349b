"""Version 4: points move from one row each into packed chunks (see ``collector/store/format/chunks.py``).

A row per point capped ingest at SQLite's B-tree insert rate; a chunk row holds what one
commit brought to one series inside one bucket of 1024 steps. Existing points are
converted: one chunk per (series, bucket, writer), in seq order.
"""

from __future__ import annotations

import sqlite3
import struct

from collector.store.format.chunks import SHIFT, Pending
from collector.store.sqlite import chunks

_PACK = struct.Struct("<q")
_DOUBLE = struct.Struct("<d")

SCHEMA = """
CREATE TABLE point_chunks (
    series    INTEGER NOT NULL,
    bucket    INTEGER NOT NULL,   -- step >> 10: the chunk's steps are all in [bucket * 1024, bucket * 1024 + 1023]
    writer_id INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,   -- the lowest seq in the chunk: (writer, seq) is claimed once, so this is unique
    n         INTEGER NOT NULL,   -- points in the chunk
    data      BLOB NOT NULL,      -- int64 steps[n], int64 seqs[n], float64 ts[n], float64 values[n], little-endian
    PRIMARY KEY (series, bucket, writer_id, first_seq)
) WITHOUT ROWID
"""


# Counting a range's points must not read the chunks (the blobs make the table's pages
# large): a covering index answers sum(n), min/max bucket from a few small pages.
INDEX = "CREATE INDEX point_chunks_count ON point_chunks (series, bucket, n)"


def migrate(db: sqlite3.Connection) -> None:
    db.execute(SCHEMA)
    db.execute(INDEX)
    rows = db.execute(
        "SELECT series, step >> ?, writer_id, step, seq, ts, value, bits FROM points"
        " ORDER BY series, step >> ?, writer_id, seq",
        (SHIFT, SHIFT),
    )
    group: tuple[int, int, int] | None = None
    pending = Pending()
    for series, bucket, writer, step, seq, ts, value, bits in rows:
        if (series, bucket, writer) != group:
            _flush(db, group, pending)
            group, pending = (series, bucket, writer), Pending()
        if bits is not None:
            value = _DOUBLE.unpack(_PACK.pack(bits))[0]
        elif value is None:
            value = float("nan")
        pending.add(step, seq, ts, value)
    _flush(db, group, pending)
    db.execute("DROP TABLE points")


def _flush(db: sqlite3.Connection, group: tuple[int, int, int] | None, pending: Pending) -> None:
    if group is None or not pending.steps:
        return
    series, bucket, writer = group
    chunks.insert(db, writer, {(series, bucket): pending})
