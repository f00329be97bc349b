"""Logged images on the run page in real Chromium: one card per key, the selected step's image, a step slider.

Images are logged with the real emitter (``run.log_image``: staged, uploaded to the served API, then the
``artifact`` event through Redis to the collector), so each call is one version of the key with its step.
The proof that a picture is on screen is the browser's own: the <img>'s natural size, which is
the size of the PNG logged at that step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

import emitter
from tests.helpers import wait_for
from tests.web.artifact_seed import png, store_version


def _card(page: Any, key: str) -> Any:
    return page.locator(f'.image-key[data-key="{key}"]')


def _natural_size(image: Any) -> list[int]:
    return image.evaluate("img => [img.naturalWidth, img.naturalHeight]")


def test_each_key_shows_the_selected_steps_image_and_follows_steps_logged_while_the_page_is_open(
    emitter_env: Any, dashboard: Any, collector: Any, store: Any, page: Any, monkeypatch: Any, tmp_path: Path
) -> None:
    monkeypatch.setenv("RUNWATCH_URL", dashboard.url)
    svg = tmp_path / "vector.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>')
    run = emitter.init("gan", name="gan-images")
    handles = [
        run.log_image("samples/generated", png(32, 16), step=1),
        run.log_image("samples/generated", png(64, 24, (200, 60, 30)), step=2),
        run.log_image("vector", svg, step=0),  # accepted as a path, but its bytes are no raster image
    ]
    try:
        assert all(handle.wait(60) for handle in handles)
        wait_for(lambda: len(store.artifacts.for_run(run.id)) == 3, what="three image versions stored")
        page.goto(f"{dashboard.url}/#/run/{run.id}")
        card = _card(page, "samples/generated")
        image = card.locator("img.artifact-image")
        # the newest step first, with its number
        expect(image).to_have_attribute("data-loaded", "true")
        expect(image).to_have_attribute("data-step", "2")
        assert _natural_size(image) == [64, 24]
        expect(card.locator("output.image-step")).to_have_text("2")
        expect(page.locator("#images")).to_contain_text("2 keys")
        # the slider moves to the earlier step and back
        slider = card.locator("input.step-slider")
        slider.focus()
        page.keyboard.press("ArrowLeft")
        expect(image).to_have_attribute("data-step", "1")
        expect(image).to_have_attribute("data-loaded", "true")
        assert _natural_size(image) == [32, 16]
        expect(card.locator("output.image-step")).to_have_text("1")
        expect(card).to_contain_text("1 of 2")
        page.keyboard.press("ArrowRight")
        expect(image).to_have_attribute("data-step", "2")
        expect(image).to_have_attribute("data-loaded", "true")
        assert _natural_size(image) == [64, 24]
        # an SVG logged as an image is never put in an <img> (nor rendered any other way)
        vector = _card(page, "vector")
        expect(vector).to_contain_text("Not an image the server shows inline")
        expect(vector.locator("img, svg")).to_have_count(0)
        # a step logged while the page is open joins the card, which was on the newest step and follows it
        page.evaluate("window.RUNWATCH_TEST.sameDocument = true")
        assert run.log_image("samples/generated", png(80, 20, (20, 160, 60)), step=3).wait(60)
        expect(image).to_have_attribute("data-step", "3", timeout=30_000)
        expect(image).to_have_attribute("data-loaded", "true")
        assert _natural_size(image) == [80, 20]
        expect(card).to_contain_text("3 of 3")
        assert page.evaluate("window.RUNWATCH_TEST.sameDocument") is True  # grown in place, no reload
        page.screenshot(path=str(tmp_path / "images.png"), full_page=True)
        assert page.dialogs == []
        assert page.problems == []
    finally:
        run.finish()


def test_an_image_card_loads_its_picture_only_once_it_scrolls_into_view(
    dashboard: Any, fake_run: Any, page: Any
) -> None:
    run = fake_run("gan", name="many-keys")
    keys = [f"key-{i:02d}" for i in range(10)]
    for i, key in enumerate(keys):
        store_version(dashboard.url, run, key, {f"{key}_5.png": png(200, 100 + i)}, type="image", metadata={"step": 5})
    page.set_viewport_size({"width": 500, "height": 600})  # one card a row: the last ones far below the fold
    page.goto(f"{dashboard.url}/#/run/{run.id}")
    first, last = _card(page, keys[0]), _card(page, keys[-1])
    expect(first.locator("img.artifact-image")).to_have_attribute("data-loaded", "true")
    assert _natural_size(first.locator("img")) == [200, 100]
    # the first picture is decoded, yet the last card, out of view, has asked for nothing
    assert last.locator(".image-frame").text_content() == "loads when in view"
    expect(last.locator("img")).to_have_count(0)
    last.scroll_into_view_if_needed()
    expect(last.locator("img.artifact-image")).to_have_attribute("data-loaded", "true")
    assert _natural_size(last.locator("img")) == [200, 109]
    expect(last.locator("output.image-step")).to_have_text("5")
    expect(last.locator("input.step-slider")).to_be_hidden()  # one step: nothing to slide over
    assert page.problems == []
