-- runwatch SQLite schema, version 2: multi-resolution metric summaries and API tokens.

-- One row per (series, level, bucket): a bucket of level L covers the steps
-- [bucket * w, (bucket + 1) * w - 1] with w = 16 * 4^(L-1). Kept up to date in the
-- write transaction (collector/store/rollups.py) so a downsampled read of any range
-- touches at most ~4 rows per requested point, whatever the length of the series.
CREATE TABLE rollups (
    series    INTEGER NOT NULL,
    level     INTEGER NOT NULL,
    bucket    INTEGER NOT NULL,
    count     INTEGER NOT NULL,                     -- points in the bucket, NaNs included
    nans      INTEGER NOT NULL,                     -- NaN points (min/max ignore them)
    min       REAL,                                 -- NULL when every point is NaN
    max       REAL,
    last_step INTEGER NOT NULL,                     -- the bucket's last point: highest step, then latest arrival
    last      REAL,
    last_bits INTEGER,                              -- exact float64 pattern when last is NaN or -0.0
    PRIMARY KEY (series, level, bucket)
) WITHOUT ROWID;

-- API tokens: only a SHA-256 of the token is kept; the token is shown once at creation.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,                     -- viewer | writer | admin
    hash         TEXT NOT NULL UNIQUE,              -- hex SHA-256 of the whole token
    prefix       TEXT NOT NULL,                     -- first characters, to recognise a token in lists
    created_at   REAL NOT NULL,
    last_used_at REAL,
    revoked_at   REAL
);
