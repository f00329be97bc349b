"""A tiny randomly initialised BERT and a toy dataset for Trainer tests: built in code, nothing downloaded.

Imported by test_hf.py and by the training scripts it runs in a fresh interpreter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

SEQUENCE = 8


class ParityData(torch.utils.data.Dataset):  # type: ignore[misc]
    """Token sequences labelled by the parity of their sum: learnable, and the same on every run."""

    def __init__(self, size: int, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, 64, (size, SEQUENCE), generator=generator)
        self.labels = self.ids.sum(dim=1) % 2

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {
            "input_ids": self.ids[index],
            "attention_mask": torch.ones(SEQUENCE, dtype=torch.long),
            "labels": self.labels[index],
        }


class FaultyBert(BertForSequenceClassification):  # type: ignore[misc]
    """A BERT whose n-th training forward returns a NaN loss or raises, as a real fault would."""

    def __init__(self, config: BertConfig, *, nan_at: int | None = None, raise_at: int | None = None) -> None:
        super().__init__(config)
        self.nan_at = nan_at
        self.raise_at = raise_at
        self.training_forwards = 0

    def forward(self, input_ids: Any = None, attention_mask: Any = None, labels: Any = None, **inputs: Any) -> Any:
        output = super().forward(input_ids=input_ids, attention_mask=attention_mask, labels=labels, **inputs)
        if self.training:
            self.training_forwards += 1
            if self.training_forwards == self.raise_at:
                raise RuntimeError(f"boom at forward {self.training_forwards}")
            if self.training_forwards == self.nan_at:
                output.loss = output.loss * float("nan")
        return output


def tiny_bert(**faults: int | None) -> FaultyBert:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=64,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        num_labels=2,
    )
    return FaultyBert(config, **faults)


def trainer(model: Any, output_dir: Path | str, callback: Any, *, steps: int = 8, **overrides: Any) -> Trainer:
    """A CPU Trainer: ``steps`` optimizer steps, logging every 2, evaluating every 4, saving nothing."""
    options: dict[str, Any] = {
        "output_dir": str(output_dir),
        "max_steps": steps,
        "per_device_train_batch_size": 4,
        "per_device_eval_batch_size": 8,
        "learning_rate": 1e-3,
        "logging_steps": 2,
        "eval_strategy": "steps",
        "eval_steps": 4,
        "save_strategy": "no",
        "report_to": "none",
        "use_cpu": True,
        "disable_tqdm": True,
        "seed": 0,
    }
    options.update(overrides)
    return Trainer(
        model=model,
        args=TrainingArguments(**options),
        train_dataset=ParityData(32),
        eval_dataset=ParityData(8, seed=1),
        callbacks=[callback],
    )
