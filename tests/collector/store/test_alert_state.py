"""The engine state of some runs, read back in a transaction: what a collector sharing runs with another reloads."""

from __future__ import annotations

import pytest

from alerts import AlertState

pytestmark = pytest.mark.every_backend


def test_the_state_of_some_runs_is_read_back_as_committed(store) -> None:
    changes = [
        (("diverging", "run-a", ""), {"streak": 2}),
        (("nan", "run-a", "loss"), {"firing": True, "episode": 1}),
        (("diverging", "run-b", ""), {"streak": 1}),
    ]
    store.alerts.transaction(lambda: store.alerts.save_alert_state_in_tx(changes))
    rows = store.alerts.transaction(lambda: store.alerts.alert_state_rows_in_tx(["run-a", "run-a", "unknown"]))
    assert sorted(rows) == [
        ("diverging", "run-a", "", {"streak": 2}),
        ("nan", "run-a", "loss", {"episode": 1, "firing": True}),
    ]
    assert store.alerts.transaction(lambda: store.alerts.alert_state_rows_in_tx([])) == []


def test_loading_some_runs_replaces_only_their_slots_and_leaves_nothing_to_save() -> None:
    state = AlertState()
    state.slot("diverging", "run-a").streak = 1  # this collector's stale view
    state.slot("diverging", "run-b").streak = 5
    state.drain_changes()
    state.load_runs(["run-a"], [("diverging", "run-a", "", {"streak": 2}), ("hb", "run-a", "", {"firing": True})])
    a, hb, b = state.get("diverging", "run-a"), state.get("hb", "run-a"), state.get("diverging", "run-b")
    assert a is not None and a.streak == 2
    assert hb is not None and hb.firing and state.has_slots("hb", "run-a")
    assert b is not None and b.streak == 5
    assert state.drain_changes() == []
    state.load_runs(["run-b"], [])
    assert state.get("diverging", "run-b") is None and not state.has_slots("diverging", "run-b")
