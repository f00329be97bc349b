"""The vendored front-end files are exactly the upstream release that collector/web/vendor/VENDOR.json records.

No browser needed: the manifest's sha256 of every file is recomputed, and the manifest must list
every file in the folder and nothing else, so a hand-edited, swapped or forgotten file fails here.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

from collector.api.web import WEB

VENDOR = WEB / "vendor"
MANIFEST = "VENDOR.json"


def vendor_problems(folder: Path) -> list[str]:
    """Every way ``folder`` differs from its manifest: a changed file, a listed file missing, a file not listed."""
    packages: dict[str, Any] = {k: v for k, v in json.loads((folder / MANIFEST).read_text()).items() if k != "about"}
    problems: list[str] = []
    listed: dict[str, str] = {}
    for package, entry in packages.items():
        for name, file in entry["files"].items():
            if name in listed:
                problems.append(f"{name}: listed by both {listed[name]} and {package}")
            listed[name] = package
            path = folder / name
            if not path.is_file():
                problems.append(f"{name}: listed by {package} but missing")
            elif hashlib.sha256(path.read_bytes()).hexdigest() != file["sha256"]:
                problems.append(f"{name}: sha256 differs from {package} {entry['version']}")
    present = {p.name for p in folder.iterdir() if p.name != MANIFEST}
    problems += [f"{name}: not listed in {MANIFEST}" for name in sorted(present - listed.keys())]
    return problems


def test_every_vendored_file_matches_the_manifest_and_the_manifest_lists_every_file() -> None:
    assert vendor_problems(VENDOR) == []


def test_the_check_names_a_changed_a_missing_and_an_unlisted_file(tmp_path: Path) -> None:
    copy = tmp_path / "vendor"
    shutil.copytree(VENDOR, copy)
    assert vendor_problems(copy) == []
    with (copy / "uPlot.min.css").open("a") as css:
        css.write("\n.uplot { color: red }\n")
    (copy / "uPlot.LICENSE").unlink()
    (copy / "chart.js").write_text("// dropped in by hand\n")
    assert vendor_problems(copy) == [
        "uPlot.min.css: sha256 differs from uplot 1.6.32",
        "uPlot.LICENSE: listed by uplot but missing",
        "chart.js: not listed in VENDOR.json",
    ]


def test_the_recorded_uplot_version_is_the_one_the_bundle_says_it_is() -> None:
    uplot = json.loads((VENDOR / MANIFEST).read_text())["uplot"]
    header = (VENDOR / "uPlot.iife.min.js").read_text().splitlines()[0]
    found = re.fullmatch(r"/\*! https://github\.com/leeoniya/uPlot \(v(?P<version>[\d.]+)\) \*/", header)
    assert found, header
    assert uplot["version"] == found["version"] == "1.6.32"
    assert uplot["package"] == f"pkg:npm/uplot@{uplot['version']}"
    assert uplot["license"] == "MIT" and "MIT License" in (VENDOR / "uPlot.LICENSE").read_text()
