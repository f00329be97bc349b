"""scikit-learn: ``log_estimator(run, model, X_test, y_test)`` after ``fit``.

Records the estimator's ``get_params()`` (nested estimators' own params included, as
``step__param``; the estimator objects themselves as their class name) and its test metrics:
``accuracy`` and ``f1`` (binary for 0/1 labels, macro-averaged otherwise) for a classifier,
``r2`` and ``mse`` for a regressor, each under ``prefix`` (``test_`` by default). Imports
scikit-learn only when called.
"""

from __future__ import annotations

from typing import Any

from emitter import Run

__all__ = ["log_estimator"]


def log_estimator(
    run: Run, model: Any, X_test: Any, y_test: Any, *, prefix: str = "test_", step: int | None = None
) -> dict[str, float]:
    """Log a fitted estimator's params and test metrics to ``run``; return the metrics.

    >>> from emitter.integrations.sklearn import log_estimator
    >>> model = LogisticRegression(C=0.5).fit(X_train, y_train)
    >>> log_estimator(run, model, X_test, y_test)
    {'test_accuracy': 0.93, 'test_f1': 0.92}
    """
    from sklearn import metrics
    from sklearn.base import is_classifier, is_regressor

    predictions = model.predict(X_test)
    if is_classifier(model):
        labels = {label.item() if hasattr(label, "item") else label for label in set(y_test)}
        average = "binary" if labels <= {0, 1} else "macro"
        values = {
            "accuracy": float(metrics.accuracy_score(y_test, predictions)),
            "f1": float(metrics.f1_score(y_test, predictions, average=average)),
        }
    elif is_regressor(model):
        values = {
            "r2": float(metrics.r2_score(y_test, predictions)),
            "mse": float(metrics.mean_squared_error(y_test, predictions)),
        }
    else:
        raise TypeError(f"log_estimator needs a classifier or a regressor, got {type(model).__name__}")
    run.log_params({"estimator": type(model).__name__, **_params(model)})
    logged = {f"{prefix}{key}": value for key, value in values.items()}
    run.log(logged, step)
    return logged


def _params(model: Any) -> dict[str, Any]:
    """``get_params(deep=True)`` with nested estimators named by class (their params are listed apart)."""
    return {
        key: type(value).__name__ if hasattr(value, "get_params") else value
        for key, value in model.get_params(deep=True).items()
    }
