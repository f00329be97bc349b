"""MLflow's tracking REST API on runwatch's port: ``MLFLOW_TRACKING_URI=http://127.0.0.1:8765``.

The unmodified ``mlflow`` client (3.x and 2.x) runs against these routes; what it writes
becomes ordinary runwatch events (``writer.MlflowWriter``), so alerts, live charts, the
exporter and the dashboard treat an MLflow run like any other. Modules: ``experiments``,
``runs``, ``metrics``, ``models`` (logged models, inputs/outputs), ``artifacts`` (the
``mlflow-artifacts`` proxy), ``filters`` (search syntax), ``entities`` (the JSON shapes),
``errors`` (MLflow's error shape).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

from ...settings import Settings
from . import artifacts, experiments, metrics, models, runs
from .errors import MlflowError, install_handlers
from .writer import MlflowWriter

__all__ = ["mount"]
PREFIX = "/api/2.0/mlflow"


def mount(app: FastAPI, settings: Settings, redis: Any) -> None:
    """Add the MLflow routes, their error shape and their writer to ``app``."""
    app.state.mlflow_writer = MlflowWriter(settings, redis)
    app.state.mlflow_keys = metrics.KeyBudget()
    install_handlers(app)
    api = APIRouter(tags=["mlflow"])
    for module in (experiments, runs, metrics, models):
        api.include_router(module.router)
    app.include_router(api, prefix=PREFIX)
    app.include_router(artifacts.router, prefix="/api/2.0/mlflow-artifacts", tags=["mlflow"])

    async def server_info() -> None:
        """No MLflow 3 server features here (e.g. multipart uploads): the client falls back, as for 2.x."""
        raise MlflowError("ENDPOINT_NOT_FOUND", "runwatch serves MLflow's 2.0 tracking API only")

    app.add_api_route("/api/3.0/mlflow/server-info", server_info, methods=["GET"], include_in_schema=False)
