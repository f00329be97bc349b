"""The runs filter grammar: what it matches, where it fails, and that it cannot inject SQL."""

from __future__ import annotations

from typing import Any

import pytest

from collector.store.search import FilterError, parse_filter
from collector.store.sort import parse_sort

pytestmark = pytest.mark.every_backend


@pytest.fixture
def runs(fake_run: Any) -> dict[str, Any]:
    made = {
        "a": fake_run(
            "cifar",
            name="resnet-a",
            config={"lr": 0.01, "opt": "adam", "layers": 50},
            tags=["baseline"],
            env={"python": "3.11.7"},
        ),
        "b": fake_run("cifar", name="resnet-b", config={"lr": 0.1, "opt": "sgd", "layers": 18}),
        "c": fake_run("imagenet", name="ViT-c", config={"lr": 0.01, "optimizer name": "lamb", "amp": True}),
        "d": fake_run("cifar", name="Resnet_d", config={"lr": "0.01"}),
    }
    made["a"].log({"val/acc": 0.95, "loss": 0.1}, step=10)
    made["b"].log({"val/acc": 0.85, "loss": 0.3}, step=10)
    made["c"].log({"val/acc": 0.97, "loss": float("nan")}, step=10)
    made["b"].status("failed")
    made["c"].status("finished")
    return made


def names(store: Any, text: str) -> list[str]:
    found, _ = store.runs.search(filter=text, sort="name asc", limit=100)
    return sorted(run["name"] for run in found)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.lr = 0.01 and metrics.val/acc > 0.9", ["ViT-c", "resnet-a"]),
        ("tags.baseline", ["resnet-a"]),
        ("not tags.baseline", ["Resnet_d", "ViT-c", "resnet-b"]),
        ("status in (running, failed)", ["Resnet_d", "resnet-a", "resnet-b"]),
        ("status not in (running, failed)", ["ViT-c"]),
        ("name like 'resnet%'", ["resnet-a", "resnet-b"]),  # like is case-sensitive
        ("name ilike 'resnet%'", ["Resnet_d", "resnet-a", "resnet-b"]),
        ("name like 'Resnet\\_%'", ["Resnet_d"]),
        ("project = 'cifar'", ["Resnet_d", "resnet-a", "resnet-b"]),
        ("project = 'imagenet' or (project = 'cifar' and params.layers >= 50)", ["ViT-c", "resnet-a"]),
        ("PARAMS.opt = 'sgd' OR params.opt = \"adam\"", ["resnet-a", "resnet-b"]),
        ("params.lr = '0.01'", ["Resnet_d", "ViT-c", "resnet-a"]),  # a string matches the text form
        ("params.`optimizer name` = 'lamb'", ["ViT-c"]),
        ("params.amp = true", ["ViT-c"]),
        ("params.layers", ["resnet-a", "resnet-b"]),
        ("params.layers is null", ["Resnet_d", "ViT-c"]),
        ("metrics.loss < 0.2", ["resnet-a"]),  # NaN compares with nothing
        ("metrics.loss", ["ViT-c", "resnet-a", "resnet-b"]),
        ("env.python like '3.11%'", ["resnet-a"]),
        ("step >= 10 and status != 'finished'", ["resnet-a", "resnet-b"]),
        ("", ["Resnet_d", "ViT-c", "resnet-a", "resnet-b"]),
    ],
)
def test_filters_select_the_expected_runs(store: Any, runs: Any, text: str, expected: list[str]) -> None:
    assert names(store, text) == expected


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("params.lr = ", 12, "expected a value"),
        ("status in (running", 18, "expected ')'"),
        ("foo = 1", 0, "unknown field"),
        ("name = 'abc", 7, "unterminated quote"),
        ("metrics.loss >> 1", 14, "expected a value"),
        ("name = 'x' and", 14, "expected a field"),
        ("(name = 'x'", 11, "expected ')'"),
        ("name = 'x' name = 'y'", 11, "expected 'and', 'or'"),
        ("params", 6, "needs a key"),
        ("name ~ 'x'", 5, "unexpected character"),
        ("tags.x = 1", 0, "presence"),
    ],
)
def test_a_bad_filter_names_the_problem_and_its_position(text: str, position: int, fragment: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(text)
    assert caught.value.position == position
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    "text",
    [
        "name = 'x'' OR 1=1 --'",
        'name = "x\\" OR 1=1 --"',
        "name = 'a'; DROP TABLE runs; --'",
        "params.`lr' OR '1'='1` = 1",
        "tags.`x') OR 1=1 --`",
        "env.`a\" ) OR 1=1 --` = 'x'",
        "name like '%'' OR ''1''=''1'",
    ],
)
def test_injection_attempts_are_inert(store: Any, runs: Any, text: str) -> None:
    try:
        found = names(store, text)
    except FilterError:
        found = []
    assert found == []
    assert len(names(store, "")) == 4  # every table still there


def test_values_never_reach_the_sql_text() -> None:
    query = parse_filter("name = 'Robert''); DROP TABLE runs;--' or params.`k'` = 1")
    assert "DROP" not in query.sql and "Robert" not in query.sql and "k'" not in query.sql
    assert "Robert'); DROP TABLE runs;--" in query.args


def test_sort_by_metric_puts_missing_values_last_and_pages_are_stable(store: Any, runs: Any) -> None:
    found, _ = store.runs.search(sort="-metrics.val/acc", limit=10)
    assert [r["name"] for r in found] == ["ViT-c", "resnet-a", "resnet-b", "Resnet_d"]
    found, _ = store.runs.search(sort="metrics.val/acc asc", limit=10)
    assert [r["name"] for r in found] == ["resnet-b", "resnet-a", "ViT-c", "Resnet_d"]
    with pytest.raises(FilterError) as caught:
        parse_sort("name, bogus desc")
    assert caught.value.position == 6
