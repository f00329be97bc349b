"""The framework integrations against the real frameworks: selected by ``-m integrations`` only.

``make test`` deselects them (``addopts``) and, since its venv has no frameworks, must not even
import their modules: a test file that needs a framework is not collected unless the run selects
the ``integrations`` marker. ``make test-integrations`` installs the frameworks and selects them,
so there they run (an import error fails, never skips). No test here touches a network: models
are built from configs in code, and the hubs are switched off.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

# before any framework is imported: no hub, Keras on the torch backend (TensorFlow is not installed)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

FRAMEWORK_TESTS = {
    "test_hf.py",
    "test_lightning.py",
    "test_keras.py",
    "test_optuna.py",
    "test_sklearn.py",
    "test_mlflow_frameworks.py",
}


def _integrations_selected(config: pytest.Config) -> bool:
    expression = config.getoption("markexpr") or ""
    return "integrations" in expression and "not integrations" not in expression


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.name in FRAMEWORK_TESTS and not _integrations_selected(config):
        return True
    return None


from tests.mlflow.serving import mlflow_api  # noqa: E402,F401 - a fixture (the MLflow API served for real)

NAN_RULE = "rules: [{name: nan, metric: loss, condition: nonfinite, severity: critical}]"


@pytest.fixture
def service_factory(service_factory: Any) -> Any:
    """The suite's ``service_factory`` (tests/conftest.py), with the NaN rule on ``loss`` by default."""
    return lambda rules_yaml=NAN_RULE, **overrides: service_factory(rules_yaml, **overrides)
