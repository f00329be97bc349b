"""Fixtures of the workflow tests: a model with three versions in the test's store."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.api.conftest import make_app, serve  # noqa: F401  (the API served for real, as tests/api do)


def _output(store: Any, run: Any, name: str, data: bytes, *, type: str, aliases: list[str] | None = None) -> None:
    sha = hashlib.sha256(data).hexdigest()
    store.artifacts.register_blob(sha, len(data), 1.0)
    files = [{"path": "weights.bin", "sha256": sha, "size": len(data)}]
    run.emit(
        "artifact", {"name": name, "uri": f"runwatch:{name}", "type": type, "aliases": aliases or [], "files": files}
    )


@pytest.fixture
def model(store: Any, fake_run: Any) -> Any:
    """``cifar/resnet`` v1-v3 (type ``model``; v3 carries ``best`` from its event) and ``cifar/images`` (a dataset)."""
    run = fake_run("cifar", name="trainer")
    for n in (1, 2, 3):
        _output(store, run, "resnet", f"weights {n}".encode(), type="model", aliases=["best"] if n == 3 else None)
    _output(store, run, "images", b"pixels", type="dataset")
    return run
