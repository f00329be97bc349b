"""The dashboard's files as the API serves them, no browser needed: every file, with a type a browser accepts.

Module scripts are refused unless served with a JavaScript MIME type (and the API sends nosniff),
so each .js under collector/web is fetched and its Content-Type checked; the static import graph
from the entry module must resolve to files that exist, and reach every module there is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from collector.api.app import create_app
from collector.api.web import WEB
from tests.api.server import ServerThread

TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".html": ("text/html",),
    ".json": ("application/json",),
}
# A static import or re-export, written on one line as these modules write them.
IMPORT = re.compile(
    r"""^(?:import\s+(?:[^"'\n;]*?\bfrom\s*)?|export\s+[^"'\n;]*?\bfrom\s*)["']([^"'\n]+)["'];?$""", re.MULTILINE
)


@pytest.fixture
def http(settings: Any, store: Any) -> Iterator[httpx.Client]:
    with ServerThread(create_app(settings, redis=aioredis.from_url(settings.redis_url), store=store)) as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield client


def _web_files() -> list[Path]:
    return sorted(p for p in WEB.rglob("*") if p.is_file())


def test_every_dashboard_file_is_served_as_it_is_with_a_type_the_browser_accepts(http: httpx.Client) -> None:
    files = _web_files()
    assert {"app.js", "js/router.js", "js/pages/runs.js", "vendor/uPlot.iife.min.js"} <= {
        p.relative_to(WEB).as_posix() for p in files
    }
    for path in files:
        response = http.get("/static/" + path.relative_to(WEB).as_posix())
        assert response.status_code == 200, path
        assert response.content == path.read_bytes(), path
        expected = TYPES.get(path.suffix)
        if expected:
            assert response.headers["content-type"].startswith(expected), (path, response.headers["content-type"])
        assert response.headers["x-content-type-options"] == "nosniff"


def test_the_index_loads_uplot_as_a_classic_script_then_the_entry_module(http: httpx.Client) -> None:
    index = http.get("/").text
    scripts = re.findall(r"<script\b([^>]*)>\s*</script>", index)
    assert scripts == [
        ' src="/static/vendor/uPlot.iife.min.js" defer',  # deferred: runs before the module, which is deferred too
        ' type="module" src="/static/app.js"',
    ]
    assert "<script>" not in index  # no inline script: the CSP would refuse it


def _imports(module: Path) -> list[Path]:
    found = IMPORT.findall(module.read_text())
    assert all(spec.startswith(("./", "../")) for spec in found), (module, found)  # no bare names: no bundler
    return [(module.parent / spec).resolve() for spec in found]


def test_every_module_import_resolves_and_every_module_is_reached_from_the_entry() -> None:
    entry = (WEB / "app.js").resolve()
    reached: set[Path] = set()
    todo = [entry]
    while todo:
        module = todo.pop()
        if module in reached:
            continue
        assert module.is_file(), f"imported but missing: {module.relative_to(WEB)}"
        reached.add(module)
        todo += _imports(module)
    modules = {p.resolve() for p in (WEB / "js").rglob("*.js")} | {entry}
    assert modules - reached == set(), "modules nothing imports"
    assert len(reached) > 10
