"""Fixtures of the MLflow API tests (``serving.mlflow_api``)."""

from tests.mlflow.serving import mlflow_api  # noqa: F401 - a fixture
