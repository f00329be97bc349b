"""A ready-made ``AlertMessage`` for notifier tests."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from alerts.notifiers.base import AlertMessage


def nan_message(**changes: Any) -> AlertMessage:
    message = AlertMessage(
        id="loss-nan|r-123#1.0",
        key="loss-nan|r-123",
        rule="loss-nan",
        run_id="r-123",
        state="firing",
        repeat=False,
        severity="critical",
        title="loss is NaN",
        text="loss = NaN at step 12",
        kind="nonfinite",
        at=1_700_000_000.0,
        run_name="resnet-7",
        project="vision",
        metric="loss",
        value=math.nan,
        step=12,
        link="http://rw.test/runs/r-123",
    )
    return dataclasses.replace(message, **changes)
