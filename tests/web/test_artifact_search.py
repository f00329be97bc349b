"""The artifact search page (#/artifacts) in real Chromium: versions of a name across runs, with producer and aliases."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.web.artifact_seed import store_version, use_version

WEIGHTS = [os.urandom(2000 + i) for i in range(3)]


def _rows(page: Any) -> Any:
    return page.locator("#artifact-results tr[data-version]")


def test_the_search_page_lists_a_names_versions_across_runs_with_their_producers_and_aliases(
    dashboard: Any, fake_run: Any, page: Any, tmp_path: Path
) -> None:
    first = fake_run("cifar", name="resnet-a")
    second = fake_run("cifar", name="resnet-b")
    elsewhere = fake_run("imagenet", name="vit")
    store_version(dashboard.url, first, "model", {"model.bin": WEIGHTS[0]}, type="model", aliases=["best"])
    store_version(dashboard.url, second, "model", {"model.bin": WEIGHTS[1]}, type="model", aliases=["best", "prod"])
    store_version(dashboard.url, elsewhere, "model", {"model.bin": WEIGHTS[2]}, type="model")
    store_version(dashboard.url, first, "model-card", {"card.md": b"# card\n", "eval/scores.json": b"{}"})
    consumer = fake_run("cifar", name="evaluator")
    use_version(consumer, "model", 1)

    page.goto(f"{dashboard.url}/#/")
    page.locator('nav a[data-nav="artifacts"]').click()
    expect(page.locator("#artifact-table")).to_be_visible()
    expect(_rows(page)).to_have_count(4)  # no filter: the newest versions of everything
    page.fill("#artifact-name", "model")
    page.fill("#artifact-project", "cifar")
    page.click('#artifact-search button[type="submit"]')
    expect(_rows(page)).to_have_count(2)
    assert page.evaluate("location.hash") == "#/artifacts?name=model&project=cifar"
    expect(page.locator("#artifact-count")).to_have_text("2 versions from 2 runs")
    newest, oldest = _rows(page).nth(0), _rows(page).nth(1)  # newest first
    expect(newest.locator(".artifact-label")).to_have_text("model:v2")
    expect(newest.locator(".producer a")).to_have_text("resnet-b")
    expect(newest.locator(".tag.alias")).to_have_text(["best", "prod"])
    expect(oldest.locator(".artifact-label")).to_have_text("model:v1")
    expect(oldest.locator(".producer a")).to_have_text("resnet-a")
    expect(oldest.locator(".tag.alias")).to_have_count(0)  # best moved to v2
    expect(oldest.locator(".consumers a")).to_have_text("evaluator")
    with page.expect_download() as info:
        oldest.locator("a.download").click()
    assert Path(info.value.path()).read_bytes() == WEIGHTS[0]
    page.screenshot(path=str(tmp_path / "search.png"), full_page=True)

    # part of a name: no name equals it, so the page says it matched names containing it
    page.fill("#artifact-name", "CARD")
    page.fill("#artifact-project", "")
    page.click('#artifact-search button[type="submit"]')
    expect(_rows(page)).to_have_count(1)
    expect(page.locator("#artifact-search-how")).to_contain_text("names containing it")
    expect(_rows(page).locator("summary")).to_have_text("2 files")

    # opened from a link: the run page's "all versions" link lands here filtered; a producer link opens its run
    page.goto(f"{dashboard.url}/#/run/{first.id}")
    page.locator('.artifact[data-name="model"] a', has_text="all versions").click()
    expect(page.locator("#artifact-name")).to_have_value("model")
    expect(page.locator("#artifact-project")).to_have_value("cifar")
    expect(_rows(page)).to_have_count(2)
    _rows(page).nth(0).locator(".producer a").click()
    expect(page.locator("#run-name")).to_have_text("resnet-b")
    assert page.problems == []
