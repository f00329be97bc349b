"""``RunStore.project_list``: every project with runs, when it began and last changed (MLflow's experiments)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.every_backend


def test_project_list_names_each_project_once_with_its_first_and_latest_times(store, fake_run):
    assert store.runs.project_list() == []
    first = fake_run("vision")
    fake_run("vision")
    fake_run("audio")
    listed = store.runs.project_list()
    assert [name for name, _, _ in listed] == ["audio", "vision"]
    vision = dict((name, (created, updated)) for name, created, updated in listed)["vision"]
    assert vision[0] == store.runs.get(first.id).created_at and vision[1] >= vision[0]
