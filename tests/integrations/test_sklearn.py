"""scikit-learn: a fitted classifier and regressor logged with their params and test metrics."""

from __future__ import annotations

import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, f1_score, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import emitter
from emitter.integrations.sklearn import log_estimator
from tests.integrations.stored import ended_runs

pytestmark = pytest.mark.integrations


def test_a_classifier_and_a_regressor_arrive_with_params_and_test_metrics(emitter_env, collector, store):
    x, y = make_classification(n_samples=200, n_features=6, n_classes=3, n_informative=4, random_state=0)
    x_train, x_test, y_train, y_test = train_test_split(x, y, random_state=0)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=500)).fit(x_train, y_train)
    with emitter.init("sklearn-it", name="classifier") as run:
        logged = log_estimator(run, classifier, x_test, y_test)
    predicted = classifier.predict(x_test)
    assert logged == {
        "test_accuracy": accuracy_score(y_test, predicted),
        "test_f1": f1_score(y_test, predicted, average="macro"),  # three classes
    }

    x, y = make_regression(n_samples=120, n_features=4, noise=0.5, random_state=0)
    regressor = Ridge(alpha=2.0).fit(x[:90], y[:90])
    with emitter.init("sklearn-it", name="regressor") as run:
        assert log_estimator(run, regressor, x[90:], y[90:], prefix="holdout_", step=7) == {
            "holdout_r2": r2_score(y[90:], regressor.predict(x[90:])),
            "holdout_mse": mean_squared_error(y[90:], regressor.predict(x[90:])),
        }

    runs = {run.name: run for run in ended_runs(store, "sklearn-it", 2)}
    stored = runs["classifier"]
    assert stored.params["estimator"] == "Pipeline"
    assert (stored.params["logisticregression__C"], stored.params["logisticregression"]) == (0.5, "LogisticRegression")
    assert {key: summary.last for key, summary in stored.metrics.items()} == logged
    ridge = runs["regressor"]
    assert (ridge.params["estimator"], ridge.params["alpha"]) == ("Ridge", 2.0)
    assert {key: (s.last_step, s.last) for key, s in ridge.metrics.items()} == {
        "holdout_r2": (7, r2_score(y[90:], regressor.predict(x[90:]))),
        "holdout_mse": (7, mean_squared_error(y[90:], regressor.predict(x[90:]))),
    }


def test_an_estimator_that_predicts_neither_classes_nor_values_is_refused(emitter_env):
    from sklearn.cluster import KMeans

    model = KMeans(n_clusters=2, n_init=1, random_state=0).fit([[0.0], [1.0], [10.0], [11.0]])
    with emitter.init("sklearn-refused") as run:
        with pytest.raises(TypeError, match="needs a classifier or a regressor, got KMeans"):
            log_estimator(run, model, [[0.5]], [0])
