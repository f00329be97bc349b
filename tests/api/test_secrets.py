"""Secrets are never shown: not in the startup banner, not in ``/readyz``, not in any URL printed or returned."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from collector.api.app import create_app
from collector.redact import redact_text, redact_url
from tests.helpers import ROOT, free_port


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("rediss://default:s3cret@cache.internal:6380/1", "rediss://default:***@cache.internal:6380/1"),
        ("redis://s3cret@cache:6379", "redis://***@cache:6379"),  # a lone user part is often the token
        ("redis://u:p%40ss:word@h:1/0", "redis://u:***@h:1/0"),
        ("postgresql://db/runwatch?user=app&password=s3cret", "postgresql://db/runwatch?user=app&password=***"),
        ("https://s3.example/b/k?X-Amz-Signature=abc&x=1", "https://s3.example/b/k?X-Amz-Signature=***&x=1"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),  # nothing secret: unchanged
        ("unix:///run/redis.sock?db=0", "unix:///run/redis.sock?db=0"),
        ("http://[::1", "***"),  # unparseable: nothing of it is shown
    ],
)
def test_redact_url_masks_credentials_and_keeps_the_rest(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_masks_every_url_in_a_message() -> None:
    message = 'connecting "redis://:pw1@a:1/0" then rediss://u:pw2@b:2, see http://docs/x'
    assert redact_text(message) == 'connecting "redis://:***@a:1/0" then rediss://u:***@b:2, see http://docs/x'


def test_the_startup_banner_shows_the_redis_address_without_its_password(tmp_path: Path) -> None:
    dead = free_port()  # nothing listens: the banner comes before the first connection
    env = {
        "PATH": "/usr/bin:/bin",
        "RUNWATCH_HOME": str(tmp_path / "home"),
        "RUNWATCH_REDIS_URL": f"redis://default:s3cret-pw@127.0.0.1:{dead}/0",
        "RUNWATCH_PORT": str(free_port()),
    }
    serve = subprocess.Popen(
        [sys.executable, "-m", "collector", "serve"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    banner = threading.Event()

    def read() -> None:
        assert serve.stdout is not None
        for line in serve.stdout:
            lines.append(line)
            if "dashboard and API on" in line:
                banner.set()
        banner.set()  # the process ended

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert banner.wait(60), "no banner"
    finally:
        serve.terminate()
        serve.wait(20)
        reader.join(10)
    output = "".join(lines)
    assert f"redis://default:***@127.0.0.1:{dead}/0" in output, output
    assert "s3cret-pw" not in output


class _StoreWhosePingFails:
    """The test's store, except that ``ping`` fails as a PostgreSQL store's would: with its DSN in the message."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def ping(self) -> None:
        raise ConnectionError('connection to "postgresql://app:s3cret-pw@db.internal:5432/runwatch" failed')


def test_readyz_names_the_dependency_that_is_down_without_addresses_or_passwords(
    serve: Any, settings: Any, store: Any
) -> None:
    dead = free_port()
    redis_url = f"redis://default:s3cret-pw@127.0.0.1:{dead}/0"
    redis = aioredis.from_url(redis_url, socket_connect_timeout=2)
    server = serve(create_app(settings, redis=redis, store=_StoreWhosePingFails(store)))
    with httpx.Client(base_url=server.url) as http:
        for path in ("/readyz", "/api/v1/readyz"):
            response = http.get(path)
            assert response.status_code == 503
            body = response.json()
            assert body["status"] == "unavailable" and set(body["problems"]) == {"redis", "store"}
            text = response.text
            for secret in ("s3cret-pw", str(dead), "127.0.0.1", "db.internal", "5432"):
                assert secret not in text, (secret, text)
