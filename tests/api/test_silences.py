"""/api/v1/silences: create, list, end early; bad input is a clear 422 and creates nothing."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.every_backend


def test_a_silence_is_listed_while_it_lasts_and_ends_early_on_delete(client: httpx.Client) -> None:
    created = client.post(
        "/api/v1/silences", json={"rule": "loss-nan", "project": "cifar", "duration": 600, "comment": "known issue"}
    )
    assert created.status_code == 201
    body = created.json()
    assert body["ends_at"] - body["starts_at"] == 600
    [listed] = client.get("/api/v1/silences").json()["silences"]
    assert (listed["id"], listed["rule"], listed["project"], listed["run_id"], listed["active"]) == (
        body["id"],
        "loss-nan",
        "cifar",
        None,
        True,
    )
    assert listed["comment"] == "known issue"

    assert client.delete(f"/api/v1/silences/{body['id']}").status_code == 200
    assert client.get("/api/v1/silences").json()["silences"] == []
    [ended] = client.get("/api/v1/silences", params={"include_ended": True}).json()["silences"]
    assert ended["expired_at"] is not None and ended["active"] is False
    assert client.delete(f"/api/v1/silences/{body['id']}").status_code == 404  # over already


def test_a_scheduled_silence_is_listed_but_not_active_yet(client: httpx.Client) -> None:
    later = time.time() + 3600
    client.post("/api/v1/silences", json={"run_id": "r1", "duration": 60, "starts_at": later})
    [listed] = client.get("/api/v1/silences").json()["silences"]
    assert listed["active"] is False and listed["starts_at"] == later


def test_bad_silences_are_refused_with_the_reason_and_nothing_is_created(client: httpx.Client) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"duration": 60}, "at least one of rule, run_id, project"),
        ({"rule": "x", "duration": 0}, "duration"),
        ({"rule": "x", "duration": 91 * 86400}, "duration"),
        ({"rule": "x"}, "duration"),
        ({"rule": "", "duration": 60}, "rule"),
        ({"rule": "x", "duration": 60, "starts_at": time.time() - 3600}, "would be over before it was created"),
    ]
    for body, named in cases:
        response = client.post("/api/v1/silences", json=body)
        assert response.status_code == 422, body
        assert named in response.text, (body, response.text)
    assert client.get("/api/v1/silences", params={"include_ended": True}).json()["silences"] == []
