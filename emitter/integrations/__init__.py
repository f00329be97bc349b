"""Framework integrations: runwatch from inside the training loop you already have.

Each module hooks one framework and imports it only when its class is first used, so none of
them is a dependency of the emitter and ``import emitter.integrations.hf`` works without
transformers installed:

- ``emitter.integrations.hf`` — ``RunwatchCallback`` for ``transformers.Trainer``
- ``emitter.integrations.lightning`` — ``RunwatchLogger`` for ``lightning.pytorch.Trainer``
- ``emitter.integrations.keras`` — ``RunwatchCallback`` for Keras 3 ``Model.fit``
- ``emitter.integrations.optuna`` — ``RunwatchCallback`` for ``study.optimize`` (a run per trial)
- ``emitter.integrations.sklearn`` — ``log_estimator(run, model, X_test, y_test)``

This package imports none of them: ``import emitter.integrations`` costs nothing. See
docs/integrations.md.
"""

from __future__ import annotations

__all__: list[str] = []
