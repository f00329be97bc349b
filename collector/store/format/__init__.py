"""What every backend stores, and the pure arithmetic over it: no SQL engine in here.

- ``exact``: float64 values in a REAL column plus exact bits for NaN and -0.0;
- ``chunks``: points packed per (series, 1,024-step bucket, writer, commit), and the
  range reads over them (each backend passes its SQL in its parameter style);
- ``columns``: a writer's metric events turned into per-series columns and summaries;
- ``rollups``: the multi-resolution levels, which of them a series keeps, their folding;
- ``downsample``: a chart read of a range from rollups plus raw edges (``SeriesSource``);
- ``claims``: idempotency on (run_id, writer, seq): which events are new, what is committed;
- ``rows``: table rows to the records of ``store.base``.

SQLite and PostgreSQL share all of it, so both store the same bits and answer reads alike.
"""
