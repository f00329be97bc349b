"""The console notifier: one readable line per alert (``runwatch demo``)."""

from __future__ import annotations

import pytest

from alerts.channels import ConsoleChannel
from alerts.notifiers import ConsoleNotifier, build_notifier
from tests.alerts.messages import nan_message


def test_prints_one_readable_line(capsys: pytest.CaptureFixture[str]) -> None:
    build_notifier("console", ConsoleChannel(type="console")).send(nan_message())

    assert capsys.readouterr().out == (
        "[FIRING critical] loss-nan: loss is NaN — run resnet-7 (vision) loss=NaN step=12 → http://rw.test/runs/r-123\n"
    )


def test_resolved_and_repeat_are_labelled(capsys: pytest.CaptureFixture[str]) -> None:
    console = ConsoleNotifier(config=ConsoleChannel(type="console", stream="stderr"))
    console.send(nan_message(state="resolved", link=None))
    console.send(nan_message(repeat=True, run_name=None, project=None, metric=None))

    assert capsys.readouterr().err.splitlines() == [
        "[RESOLVED critical] loss-nan: loss is NaN — run resnet-7 (vision) loss=NaN step=12",
        "[REPEAT critical] loss-nan: loss is NaN — run r-123 → http://rw.test/runs/r-123",
    ]
