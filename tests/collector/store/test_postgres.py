"""What only the PostgreSQL store has: pooled connections the server may drop, several processes on one database."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest

from emitter.events import Batch, Event, Kind

pytestmark = pytest.mark.every_backend("postgres")


def drop_connections(url: str) -> int:
    """What a server restart does to a pool: the server closes every connection runwatch has open."""
    with psycopg.connect(url, autocommit=True) as admin:  # not one of runwatch's own (application_name)
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'runwatch'"
        ).fetchall()
    return len(killed)


def test_a_store_whose_connections_the_server_dropped_writes_and_reads_without_a_failed_attempt(
    store: Any, settings: Any
) -> None:
    start = Event("r", "w", 0, 1.0, Kind.RUN_START, {"project": "p", "name": "survivor"})
    store.write([Batch("r", "w", [start])], [], time.time())
    assert store.runs.get("survivor") is not None
    assert drop_connections(settings.database_url) >= 1
    point = Event("r", "w", 1, 2.0, Kind.METRICS, {"step": 1, "values": {"x": 1.5}})
    result = store.write([Batch("r", "w", [point])], [], time.time())  # on a dead pooled connection, then a new one
    assert result.points == 1 and result.watermarks == {("r", "w"): 1}
    assert drop_connections(settings.database_url) >= 1
    assert [p.value for p in store.series.points("r")] == [1.5]  # a read, too, is asked again on a new connection
    store.ping()


def test_the_store_names_its_database_without_the_password(store: Any) -> None:
    assert store.where.startswith("postgresql://") and "@" in store.where
    assert ":" not in store.where.split("//", 1)[1].split("@", 1)[0], "no password before the host"
