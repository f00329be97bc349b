"""Fixtures for alert tests: a fake Slack, a generic recording HTTP server, an SMTP sink.

Other test packages can reuse them with ``from tests.alerts.conftest import fake_slack, smtp_sink``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.alerts.fake_slack import FakeSlack, RecordingServer
from tests.alerts.smtp_sink import SmtpSink


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def http_server() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink
