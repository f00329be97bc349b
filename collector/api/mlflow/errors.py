"""MLflow's error shape: ``{"error_code": ..., "message": ...}`` with MLflow's status codes.

The MLflow client turns these into ``MlflowException`` with the code, so its messages (and
its retry decisions: only 408/429/5xx are retried) mean what they say against runwatch.

::

    MlflowError(code, message)          raised by the routes
    ├── not_found(what)                 RESOURCE_DOES_NOT_EXIST, 404
    └── invalid(message)                INVALID_PARAMETER_VALUE, 400
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PREFIXES = ("/api/2.0/mlflow", "/api/3.0/mlflow")  # "/api/2.0/mlflow-artifacts" included

STATUS = {
    "BAD_REQUEST": 400,
    "INVALID_PARAMETER_VALUE": 400,
    "MALFORMED_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "INTERNAL_ERROR": 500,
    "TEMPORARILY_UNAVAILABLE": 503,
}
_CODE_OF_STATUS = {
    400: "INVALID_PARAMETER_VALUE",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    405: "ENDPOINT_NOT_FOUND",
    413: "INVALID_PARAMETER_VALUE",
    422: "INVALID_PARAMETER_VALUE",
    429: "REQUEST_LIMIT_EXCEEDED",
    503: "TEMPORARILY_UNAVAILABLE",
}


class MlflowError(Exception):
    """An MLflow-shaped refusal: ``error_code`` names it, the status follows from the code."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.status = STATUS.get(error_code, 400)


def not_found(message: str) -> MlflowError:
    return MlflowError("RESOURCE_DOES_NOT_EXIST", message)


def invalid(message: str) -> MlflowError:
    return MlflowError("INVALID_PARAMETER_VALUE", message)


def error_body(error_code: str, message: str) -> dict[str, Any]:
    return {"error_code": error_code, "message": message}


def is_mlflow_path(path: str) -> bool:
    return path.startswith(PREFIXES)


async def _answer(answer: Any) -> Any:
    """FastAPI's own handlers are coroutines; a custom one may return its response directly."""
    return await answer if inspect.isawaitable(answer) else answer


def install_handlers(app: FastAPI) -> None:
    """Answer errors on MLflow paths in MLflow's shape; every other path keeps FastAPI's answers."""
    default_http = app.exception_handlers.get(StarletteHTTPException)
    default_validation = app.exception_handlers.get(RequestValidationError)

    async def on_mlflow_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MlflowError)
        return JSONResponse(error_body(exc.error_code, exc.message), exc.status)

    async def on_http(request: Request, exc: Exception) -> Any:
        assert isinstance(exc, StarletteHTTPException)
        if not is_mlflow_path(request.url.path) and default_http is not None:
            return await _answer(default_http(request, exc))
        code = _CODE_OF_STATUS.get(exc.status_code, "INTERNAL_ERROR" if exc.status_code >= 500 else "BAD_REQUEST")
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse(error_body(code, detail), exc.status_code, headers=getattr(exc, "headers", None))

    async def on_validation(request: Request, exc: Exception) -> Any:
        assert isinstance(exc, RequestValidationError)
        if not is_mlflow_path(request.url.path) and default_validation is not None:
            return await _answer(default_validation(request, exc))
        problems = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}" for e in exc.errors()[:5])
        return JSONResponse(error_body("INVALID_PARAMETER_VALUE", f"malformed request: {problems}"), 400)

    app.add_exception_handler(MlflowError, on_mlflow_error)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
