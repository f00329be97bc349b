"""Real headless Chromium (Debian's package, driven by Playwright; no browser download)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import need_binary

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]


@pytest.fixture
def browser() -> Iterator[Any]:
    path = need_binary("chromium", "/usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page that records console errors, page errors and dialogs (an XSS would open one)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    opened.problems = []
    opened.dialogs = []
    opened.on("console", lambda msg: msg.type == "error" and opened.problems.append(msg.text))
    opened.on("pageerror", lambda exc: opened.problems.append(str(exc)))

    def on_dialog(dialog: Any) -> None:
        opened.dialogs.append(dialog.message)
        dialog.dismiss()

    opened.on("dialog", on_dialog)
    yield opened
    context.close()


@pytest.fixture
def dashboard(settings: Any, store: Any) -> Iterator[Any]:
    """The API and dashboard served for real (uvicorn in a thread) over this test's Redis and store."""
    import redis.asyncio as aioredis

    from collector.api.app import create_app
    from tests.api.server import ServerThread

    server = ServerThread(create_app(settings, redis=aioredis.from_url(settings.redis_url), store=store)).start()
    yield server
    server.stop()
