"""The run page's artifacts panel in real Chromium, over a real store and blob store, bytes uploaded through the API.

What it shows: each stored version's files as a tree with sizes, downloads that give back the bytes
(the version asked for, not just the newest), lineage links between producer and consumer, inputs
downloadable from the run that produced them, references by URI shown as such, rejected artifacts
with their reason; and previews of text, JSON, CSV and images in which nothing uploaded is rendered
as a page (HTML and SVG are shown as their source, an <img> only for bytes the server serves inline).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from playwright.sync_api import expect

from collector.api.app import create_app
from tests.api.server import ServerThread
from tests.web.artifact_seed import never_uploaded, png, reference, store_version, use_version

DATA = os.urandom(3000)
MODEL_1, MODEL_2 = os.urandom(5000), os.urandom(7000)
SCRIPT = b"<script>alert(1)</script><img src=x onerror=alert(2)><b>bold</b>"


def _file(page: Any, path: str, version: int | None = None) -> Any:
    scope = page.locator(f'.artifact[data-version="{version}"]') if version else page.locator("#artifacts")
    return scope.locator(f'li.file[data-path="{path}"]')


def _downloaded(page: Any, link: Any) -> bytes:
    with page.expect_download() as info:
        link.click()
    return Path(info.value.path()).read_bytes()


def test_the_panel_lists_files_with_sizes_downloads_each_version_and_links_lineage_both_ways(
    dashboard: Any, fake_run: Any, page: Any, tmp_path: Path
) -> None:
    producer = fake_run("cifar", name="trainer")
    store_version(
        dashboard.url,
        producer,
        "dataset",
        {"train/a.bin": DATA, "train/b.txt": b"hello\n", "README.md": b"# data\n"},
        type="dataset",
    )
    store_version(dashboard.url, producer, "model", {"model.bin": MODEL_1}, type="model", aliases=["best"])
    store_version(dashboard.url, producer, "model", {"model.bin": MODEL_2}, type="model", aliases=["best", "prod"])
    reference(producer, "imagenet", "s3://datasets/imagenet/train.tar", size=1 << 30)
    never_uploaded(producer, "lost-weights")
    consumer = fake_run("cifar", name="evaluator")
    use_version(consumer, "dataset", 1)

    page.goto(f"{dashboard.url}/#/run/{producer.id}")
    expect(page.locator("#artifact-tree > li.artifact-name")).to_have_count(2)
    expect(page.locator("#artifacts-total")).to_contain_text("3 stored versions")
    expect(page.locator("#artifacts")).not_to_contain_text("null")  # absent sections leave nothing behind
    # the tree: directories, files with their sizes (readable, and exact on hover)
    a_bin = _file(page, "dataset/train/a.bin")
    expect(a_bin.locator(".size")).to_have_text("2.9 KiB")
    assert a_bin.locator(".size").get_attribute("data-size") == "3000"
    assert a_bin.locator(".size").get_attribute("title") == "3000 bytes"
    expect(page.locator('.artifact[data-name="dataset"] li.dir[data-dir="train"] summary')).to_contain_text("2 files")
    expect(_file(page, "dataset/README.md").locator(".size")).to_have_text("7 B")
    one_version = page.locator('li.artifact-name[data-name="dataset"]')
    assert one_version.evaluate("li => li.childNodes.length") == 1  # its version, and no fold (nor stray text)
    # the newest model is shown with its aliases, the older folded under it, each downloadable as it was
    newest = page.locator('.artifact[data-name="model"][data-version="2"]')
    expect(newest.locator(".artifact-label")).to_have_text("model:v2")
    expect(newest.locator(".tag.alias")).to_have_text(["best", "prod"])
    assert _downloaded(page, _file(page, "model/model.bin", 2).locator("a.download")) == MODEL_2
    assert _downloaded(page, newest.locator("a.download-artifact")) == MODEL_2  # a one-file artifact by its name
    page.locator('li.artifact-name[data-name="model"] details.older summary').click()
    older = page.locator('.artifact[data-name="model"][data-version="1"]')
    expect(older.locator(".tag.alias")).to_have_count(0)  # "best" moved on to v2
    assert _downloaded(page, _file(page, "model/model.bin", 1).locator("a.download")) == MODEL_1
    assert _downloaded(page, a_bin.locator("a.download")) == DATA
    # a reference by URI is shown as one, with nothing to download; a rejected event with the collector's reason
    ref = page.locator('#artifacts-references tr[data-name="imagenet"]')
    expect(ref).to_contain_text("s3://datasets/imagenet/train.tar")
    expect(ref).to_contain_text("not stored here")
    expect(ref.locator("a")).to_have_count(0)
    expect(page.locator('#artifacts-rejected tr[data-name="lost-weights"] .reason')).to_contain_text("never uploaded")
    # lineage: the dataset was used by the evaluator; its page lists it as an input produced by the trainer
    used_by = page.locator('.artifact[data-name="dataset"] .lineage.consumers a')
    expect(used_by).to_have_text("evaluator")
    page.screenshot(path=str(tmp_path / "artifacts-panel.png"), full_page=True)
    used_by.click()
    expect(page.locator("#run-name")).to_have_text("evaluator")
    used = page.locator('#artifacts-used .artifact[data-name="dataset"]')
    expect(used.locator(".artifact-label")).to_have_text("dataset:v1")
    expect(used.locator(".lineage.producer a")).to_have_text("trainer")
    assert _downloaded(page, used.locator('li.file[data-path="dataset/train/a.bin"] a.download')) == DATA
    expect(page.locator("#artifact-tree")).to_have_count(0)  # it stored nothing itself
    used.locator(".lineage.producer a").click()
    expect(page.locator("#run-name")).to_have_text("trainer")
    assert page.problems == []


def test_previews_show_text_pretty_json_and_a_csv_table_and_render_nothing_uploaded_as_a_page(
    dashboard: Any, fake_run: Any, page: Any, tmp_path: Path
) -> None:
    run = fake_run("reports", name="report-run")
    big = b"".join(b"line %06d of a long log\n" % i for i in range(4000))  # 104,000 bytes: past the 64 KiB read
    files = {
        "notes.txt": "loss went down, \u2713 finally\n".encode(),
        "metrics.json": b'{"loss":0.5,"acc":[0.9,0.95],"name":"<b>x</b>"}',
        "table.csv": b'epoch,loss,comment\n1,0.9,"first, warm-up"\n2,0.5,"said ""ok"""\n',
        "page.html": SCRIPT,
        "drawing.svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(3)"><script>alert(4)</script></svg>',
        "plot.png": png(40, 30),
        "fake.png": SCRIPT,
        "train.log": big,
    }
    store_version(dashboard.url, run, "reports", files)
    page.goto(f"{dashboard.url}/#/run/{run.id}")

    def open_preview(name: str) -> Any:
        row = _file(page, f"reports/{name}")
        row.locator("button", has_text="preview").click()
        return row.locator(".preview")

    expect(open_preview("notes.txt").locator("pre")).to_have_text("loss went down, \u2713 finally\n")
    json_text = open_preview("metrics.json").locator("pre.preview-json")
    expect(json_text).to_have_text('{\n  "loss": 0.5,\n  "acc": [\n    0.9,\n    0.95\n  ],\n  "name": "<b>x</b>"\n}')
    table = open_preview("table.csv").locator("table.preview-table")
    expect(table.locator("th")).to_have_text(["epoch", "loss", "comment"])
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody tr").nth(0).locator("td")).to_have_text(["1", "0.9", "first, warm-up"])
    expect(table.locator("tbody tr").nth(1).locator("td").nth(2)).to_have_text('said "ok"')
    # a long file: only its first 64 KiB are read, and the preview says so
    log = open_preview("train.log")
    expect(log.locator(".preview-note")).to_have_text("Showing the first 64 KiB of 102 KiB.")
    assert log.get_attribute("data-truncated") == "true"
    assert log.locator("pre").text_content().startswith("line 000000 of a long log\n")
    # HTML and SVG are shown as their source, never rendered; a file named .png that is not one gets no <img>
    html = open_preview("page.html")
    expect(html.locator("pre")).to_have_text(SCRIPT.decode())
    expect(html.locator(".preview-note")).to_contain_text("never rendered")
    expect(open_preview("drawing.svg").locator("pre")).to_contain_text("<script>alert(4)</script>")
    expect(open_preview("fake.png")).to_contain_text("download only")
    image = open_preview("plot.png").locator("img.artifact-image")
    expect(image).to_have_attribute("data-loaded", "true")
    assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [40, 30]
    expect(page.locator("#artifacts img")).to_have_count(1)  # the real PNG only
    expect(page.locator("#artifacts b, #artifacts script, #artifacts svg, #artifacts iframe")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "previews.png"), full_page=True)
    assert page.dialogs == []
    assert page.problems == []


def test_signed_in_with_a_viewer_token_images_previews_and_downloads_carry_the_session(
    dashboard: Any, settings: Any, store: Any, fake_run: Any, page: Any
) -> None:
    """With auth on, the <img>, the Range reads of previews and the download links all go out with the cookie."""
    run = fake_run("secure", name="private-run")
    store_version(dashboard.url, run, "plot", {"plot_7.png": png(48, 36)}, type="image", metadata={"step": 7})
    store_version(dashboard.url, run, "config", {"config.json": b'{"lr":0.1}'})
    app = create_app(
        settings.model_copy(update={"auth": True}), redis=aioredis.from_url(settings.redis_url), store=store
    )
    with ServerThread(app) as secured:
        _, token = store.tokens.create("viewer", "viewer-token", time.time())
        page.goto(f"{secured.url}/#/run/{run.id}")
        page.fill("#token", token)
        refused = list(page.problems)  # the run's read before signing in: a 401, as expected
        page.click("form.login button")
        image = page.locator('.image-key[data-key="plot"] img.artifact-image')
        expect(image).to_have_attribute("data-loaded", "true")
        assert image.evaluate("img => img.naturalWidth") == 48
        row = _file(page, "config/config.json")
        row.locator("button", has_text="preview").click()
        expect(row.locator("pre.preview-json")).to_have_text('{\n  "lr": 0.1\n}')
        assert _downloaded(page, row.locator("a.download")) == b'{"lr":0.1}'
    assert page.problems == refused  # signed in, nothing was refused
