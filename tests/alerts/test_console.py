"""The console notifier: one readable line per alert (``runwatch demo``)."""

from __future__ import annotations

import io

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


# every character a terminal acts on: C0 (ESC, BEL, CR, BS), DEL, C1 (CSI as one byte), line separators, bidi overrides
CONTROL = "".join(chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029, 0x202E, 0x2066))


def test_escape_sequences_in_names_are_shown_not_obeyed() -> None:
    out = io.StringIO()
    evil = "x\x1b[2J\x1b]0;owned\x07\r\x9b31m\u202eexe.sh"
    ConsoleNotifier(out=out).send(
        nan_message(run_name=evil, rule=evil, title=evil, project=evil, metric=evil, link=f"http://rw.test/{evil}")
    )

    line = out.getvalue()
    assert line.endswith("\n") and line.count("\n") == 1
    assert not set(line[:-1]) & set(CONTROL), repr(line)
    assert "x\\x1b[2J\\x1b]0;owned\\x07 \\x9b31m\\u202eexe.sh" in line  # visible, so nobody is fooled by it
