"""The "promote" control of a model version on the run page's artifacts panel, in real headless Chromium.

A writer signed in through the form points an alias at a version; the panel shows the move and the
alias on the version, and the audit log names the token. A viewer is refused with the API's reason
and nothing changes.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from playwright.sync_api import expect

from collector.api.app import create_app
from tests.api.server import ServerThread


def _model_version(store: Any, run: Any, name: str, data: bytes, type: str = "model") -> None:
    """A version recorded the collector's way (a registered blob, then the run's artifact event)."""
    sha = hashlib.sha256(data).hexdigest()
    store.artifacts.register_blob(sha, len(data), time.time())
    files = [{"path": "model.bin", "sha256": sha, "size": len(data)}]
    run.emit("artifact", {"name": name, "uri": f"runwatch:{name}", "type": type, "aliases": [], "files": files})


@pytest.fixture
def trainer(store: Any, fake_run: Any) -> Any:
    run = fake_run("cifar", name="trainer")
    _model_version(store, run, "resnet", b"weights 1")
    _model_version(store, run, "resnet", b"weights 2")
    _model_version(store, run, "dataset", b"pixels", type="dataset")
    return run


@pytest.fixture
def sign_in(settings: Any, store: Any, page: Any, trainer: Any) -> Iterator[Callable[[str], Any]]:
    """``sign_in(role)``: the trainer's run page, opened through the sign-in form with a new token of that role."""
    app = create_app(
        settings.model_copy(update={"auth": True}), redis=aioredis.from_url(settings.redis_url), store=store
    )
    server = ServerThread(app).start()

    def open_as(role: str) -> Any:
        _, token = store.tokens.create(role, f"{role}-token", time.time())
        page.goto(f"{server.url}/#/run/{trainer.id}")
        page.fill("#token", token)
        page.click("form.login button")
        page.wait_for_selector("#artifact-tree")
        return page

    yield open_as
    server.stop()


def test_a_writer_promotes_a_model_version_and_the_panel_shows_the_alias(sign_in: Any, store: Any) -> None:
    page = sign_in("writer")
    expect(page.locator('.artifact[data-name="dataset"] form.promote')).to_have_count(0)  # only models get stages
    newest = page.locator('.artifact[data-name="resnet"][data-version="2"]')
    newest.locator("input.promote-alias").fill("production")
    newest.locator("form.promote button").click()
    expect(page.locator('.artifact[data-name="resnet"][data-version="2"] .tag.alias')).to_have_text(["production"])
    assert store.artifacts.get("cifar", "resnet", "production").version == 2
    (entry,) = store.audit.list()
    assert (entry.who, entry.action, entry.target) == ("writer-token", "alias.move", "cifar/resnet:production")
    assert [
        p for p in page.problems if "Failed to load resource" not in p
    ] == []  # the 401 before signing in is expected
    assert page.dialogs == []


def test_a_viewer_is_refused_with_the_reason_and_nothing_changes(sign_in: Any, store: Any) -> None:
    page = sign_in("viewer")
    newest = page.locator('.artifact[data-name="resnet"][data-version="2"]')
    newest.locator("input.promote-alias").fill("production")
    newest.locator("form.promote button").click()
    expect(newest.locator(".promote-status")).to_have_text("this needs the writer role; the token has viewer")
    assert store.artifacts.get("cifar", "resnet", "production") is None
    assert store.audit.list() == []


def test_a_reserved_alias_gets_the_api_reason(sign_in: Any, store: Any) -> None:
    page = sign_in("writer")
    newest = page.locator('.artifact[data-name="resnet"][data-version="2"]')
    newest.locator("input.promote-alias").fill("latest")
    newest.locator("form.promote button").click()
    expect(newest.locator(".promote-status")).to_contain_text("reserved")
    assert store.audit.list() == []
