"""Run ids sort by creation time, generated names read as project, date and slug, writers never collide."""

from __future__ import annotations

import datetime as dt
import re
import time

import emitter
from emitter import generate_name, new_run_id


def test_a_generated_name_follows_project_date_slug():
    name = generate_name("cifar", dt.date(2026, 11, 26))
    assert re.fullmatch(r"cifar_2026-11-26_[a-z]+-[a-z]+", name)


def test_run_ids_are_unique_and_sort_by_creation_time():
    ids = []
    for _ in range(5):
        ids.append(new_run_id())
        time.sleep(0.002)
    assert len(set(ids)) == 5
    assert ids == sorted(ids)
    assert all(len(i) == 26 for i in ids)


def test_init_without_a_name_generates_one(offline_run):
    assert offline_run.name.startswith(f"unit_{dt.date.today().isoformat()}_")


def test_every_run_writes_as_a_writer_of_its_own(offline_run, tmp_path):
    other = emitter.init("unit", run_id=offline_run.id, redis_url=offline_run.redis_url, home=tmp_path / "h2")
    assert other.id == offline_run.id and other.writer != offline_run.writer  # a resumed run never reuses a seq key
    assert re.fullmatch(r"[0-9a-f]{16}", other.writer)
    other.finish()
