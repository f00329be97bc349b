"""The data directory and the database are private to their owner: 0700 and 0600 when runwatch creates them."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from collector.embedded_redis import find_server_binary
from collector.service import Service
from collector.store.sqlite.database import Database
from tests.helpers import free_port, skip_unless


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_and_its_directory_are_created_readable_by_their_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new-home" / "runwatch.db"
    db = Database(path)
    with db.transaction() as conn:  # a write: the WAL and shared-memory files appear too
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
    try:
        assert mode(path.parent) == 0o700
        assert mode(path) == 0o600
        for companion in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            assert companion.exists() and mode(companion) == 0o600, companion
    finally:
        db.close()


def test_an_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "runwatch.db"
    Database(path).close()
    path.chmod(0o640)  # the operator's choice (a group that backs it up, say)
    Database(path).close()
    assert mode(path) == 0o640


def test_the_service_creates_its_home_private_before_the_embedded_redis_writes_there(
    settings: Any, tmp_path: Path
) -> None:
    skip_unless(find_server_binary(), "no bundled Valkey on this platform and no redis-server on PATH")
    home = tmp_path / "fresh" / "home"
    configured = settings.model_copy(update={"home": home, "redis_url": None, "embedded_redis_port": free_port()})
    service = Service(configured, with_api=False)
    service.resolve_redis()  # the first thing `runwatch serve` does, before the store is opened
    try:
        assert mode(home) == 0o700
        assert (home / "redis").is_dir()
    finally:
        assert service.embedded is not None
        service.embedded.stop()
