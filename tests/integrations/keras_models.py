"""A two-layer Keras model on a toy regression (torch backend, set by conftest), faults on request."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np


class FaultyLayer(keras.layers.Layer):  # type: ignore[misc]
    """Identity, except that its n-th training call raises, as a real fault inside fit() would."""

    def __init__(self, raise_at: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.raise_at = raise_at
        self.training_calls = 0

    def call(self, x: Any, training: bool = False) -> Any:
        if training:
            self.training_calls += 1
            if self.training_calls == self.raise_at:
                raise RuntimeError(f"boom at batch {self.training_calls}")
        return x


def two_layer(raise_at: int | None = None) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            FaultyLayer(raise_at),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1),
        ],
        name="two_layer",
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse", metrics=["mae"])
    return model


def data(size: int = 32, seed: int = 0, nan_batch: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``size`` samples (batches of 4); with ``nan_batch`` (1-based) that batch's inputs are NaN."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((size, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    if nan_batch is not None:
        x[(nan_batch - 1) * 4 : nan_batch * 4] = np.nan
    return x, y


def fit(model: keras.Model, callbacks: list[Any], *, epochs: int = 2, nan_batch: int | None = None) -> Any:
    x, y = data(nan_batch=nan_batch)
    return model.fit(
        x,
        y,
        batch_size=4,
        epochs=epochs,
        shuffle=False,
        validation_data=data(8, seed=1),
        verbose=0,
        callbacks=callbacks,
    )
