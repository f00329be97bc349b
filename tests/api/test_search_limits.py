"""Filters, sorts and cursors are bounded: past a limit the answer is a 400 naming it, never a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

pytestmark = pytest.mark.every_backend


def _cursor(offset: object) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"filter": "not " * 300 + "tags.x"}, "nested more than 32 levels deep"),
        ({"filter": "(" * 1300 + "tags.x" + ")" * 1300}, "nested more than 32 levels deep"),
        ({"filter": "(" * 40 + "tags.x" + ")" * 40}, "nested more than 32 levels deep"),
        ({"filter": "status in (" + ", ".join(f"s{i}" for i in range(1300)) + ")"}, "longer than 4000 characters"),
        ({"filter": "status in (" + ", ".join(f"s{i}" for i in range(101)) + ")"}, "more than 100 values"),
        ({"filter": " or ".join(f"tags.t{i}" for i in range(65))}, "more than 64 conditions"),
        ({"sort": ", ".join(["name"] * 1000)}, "sort longer than 1000 characters"),
        ({"sort": ", ".join(["name"] * 9)}, "more than 8 sort terms"),
    ],
    ids=[
        "300 nots",
        "1300 parentheses",
        "40 parentheses",
        "in of 1300",
        "in of 101",
        "65 conditions",
        "1000 sort terms",
        "9 sort terms",
    ],
)
def test_a_filter_or_sort_past_a_limit_is_a_400_naming_it(
    client: Any, fake_run: Any, params: dict[str, str], named: str
) -> None:
    fake_run(name="kept")
    response = client.get("/api/v1/runs", params=params)
    assert response.status_code == 400, response.text
    assert named in json.dumps(response.json())
    assert [r["name"] for r in client.get("/api/v1/runs").json()["runs"]] == ["kept"]  # and the API still answers


def test_filters_at_the_limits_still_work(client: Any, fake_run: Any) -> None:
    fake_run(name="kept", tags=["t3"])
    at_depth = "(" * 31 + "tags.t3" + ")" * 31
    in_100 = "name in (" + ", ".join(["kept", *(f"n{i}" for i in range(99))]) + ")"
    for text in (at_depth, in_100, " or ".join(f"tags.t{i}" for i in range(64))):
        response = client.get("/api/v1/runs", params={"filter": text})
        assert response.status_code == 200, response.text
        assert [r["name"] for r in response.json()["runs"]] == ["kept"]
    assert client.get("/api/v1/runs", params={"sort": ", ".join(["name"] * 8)}).status_code == 200


@pytest.mark.parametrize("offset", [10**30, 10_000_001, -1, True, "7"])
def test_a_cursor_past_the_offset_limit_or_malformed_is_a_400(client: Any, offset: object) -> None:
    response = client.get("/api/v1/runs", params={"cursor": _cursor(offset)})
    assert response.status_code == 400 and "malformed cursor" in response.text
