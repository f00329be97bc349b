"""A two-layer LightningModule on a toy regression, with faults on request; built in code, nothing downloaded.

Imported by test_lightning.py and by the training script it runs with two ranks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torch.nn import functional


class TwoLayer(pl.LightningModule):  # type: ignore[misc]
    """y = sum(x) learned by Linear-ReLU-Linear; a given step (0-based, as logged) can return NaN or raise."""

    def __init__(
        self, lr: float = 0.05, hidden: int = 8, nan_at: int | None = None, raise_at: int | None = None
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def training_step(self, batch: Any, index: int) -> Any:
        x, y = batch
        loss = functional.mse_loss(self.net(x), y)
        step = self.global_step  # the step Lightning logs this batch's values at
        if step == self.hparams.raise_at:
            raise RuntimeError(f"boom at step {step}")
        if step == self.hparams.nan_at:
            loss = loss * float("nan")
        self.log("loss", loss)
        return loss

    def validation_step(self, batch: Any, index: int) -> None:
        x, y = batch
        self.log("val_loss", functional.mse_loss(self.net(x), y))

    def test_step(self, batch: Any, index: int) -> None:
        x, y = batch
        self.log("test_loss", functional.mse_loss(self.net(x), y))

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def loader(size: int = 32, seed: int = 0) -> torch.utils.data.DataLoader:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(size, 4, generator=generator)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=4)


def trainer(logger: Any, root: Path | str, *, epochs: int = 2, **overrides: Any) -> pl.Trainer:
    """A CPU Trainer logging every step, checkpointing each epoch under ``root``, printing nothing."""
    options: dict[str, Any] = {
        "max_epochs": epochs,
        "accelerator": "cpu",
        "devices": 1,
        "logger": logger,
        "log_every_n_steps": 1,
        "default_root_dir": str(root),
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
    }
    options.update(overrides)
    return pl.Trainer(**options)
