"""Model stages: aliases promoted by a writer (CLI and REST), recorded in the alias history and the audit log."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from collector.audit import cli_user
from collector.cli import main
from collector.store.base import ROLES

pytestmark = pytest.mark.every_backend


def cli(home: Any, *args: str) -> Any:
    return CliRunner().invoke(main, [*args, "--home", str(home)], catch_exceptions=False)


def test_a_promotion_moves_the_alias_and_records_the_move(store, model):
    first = store.artifacts.move_alias("cifar", "resnet", "production", 2, by="alice", now=10.0)
    second = store.artifacts.move_alias("cifar", "resnet", "production", 3, by="bob", now=20.0)
    assert (first.from_version, first.to_version, second.from_version, second.to_version) == (None, 2, 2, 3)
    assert store.artifacts.get("cifar", "resnet", "production").version == 3
    history = store.artifacts.alias_history("cifar", "resnet", "production")
    assert [(m.from_version, m.to_version, m.by, m.at) for m in history] == [
        (2, 3, "bob", 20.0),
        (None, 2, "alice", 10.0),
    ]
    every = store.artifacts.alias_history("cifar", "resnet")
    assert {(m.alias, m.by) for m in every} == {("production", "bob"), ("production", "alice"), ("best", None)}


def test_promoting_to_the_version_it_is_on_changes_and_records_nothing(store, model):
    store.artifacts.move_alias("cifar", "resnet", "production", 2, by="alice", now=10.0)
    again = store.artifacts.move_alias("cifar", "resnet", "production", 2, by="alice", now=11.0)
    assert (again.from_version, again.to_version) == (2, 2)
    assert len(store.artifacts.alias_history("cifar", "resnet", "production")) == 1


def test_an_unknown_version_is_none_and_nothing_changes(store, model):
    assert store.artifacts.move_alias("cifar", "resnet", "production", 9, by="alice", now=10.0) is None
    assert store.artifacts.alias_history("cifar", "resnet", "production") == []


def test_cli_promote_moves_the_alias_and_the_audit_log_names_the_os_user(store, model, home):
    result = cli(home, "model", "promote", "resnet:v2", "--alias", "production")
    assert result.exit_code == 0, result.output
    assert "cifar/resnet:production → v2 (was unset)" in result.output
    assert "→ v3 (was v2)" in cli(home, "model", "promote", "resnet:best", "--alias", "production").output
    assert "already v3" in cli(home, "model", "promote", "resnet:latest", "--alias", "production").output
    entries = store.audit.list(action="alias")
    assert [(e.who, e.source, e.action, e.target, e.detail["from"], e.detail["to"]) for e in entries] == [
        (cli_user(), "cli", "alias.move", "cifar/resnet:production", 2, 3),
        (cli_user(), "cli", "alias.move", "cifar/resnet:production", None, 2),
    ]
    history = cli(home, "model", "history", "resnet", "--alias", "production")
    assert history.exit_code == 0 and "v2" in history.output and cli_user() in history.output


@pytest.mark.parametrize(
    ("ref", "alias", "message"),
    [
        ("resnet", "production", "expected NAME:VERSION"),
        ("resnet:v9", "production", "no version 'v9' of 'resnet'"),
        ("nothing:v1", "production", "no artifact named 'nothing'"),
        ("images:v1", "production", "only artifacts of type 'model'"),
        ("resnet:v1", "latest", "reserved"),
        ("resnet:v1", "v2", "reserved"),
        ("resnet:v1", "has space", "alias must be"),
    ],
)
def test_cli_promote_refuses_bad_input_clearly_and_changes_nothing(store, model, home, ref, alias, message):
    result = cli(home, "model", "promote", ref, "--alias", alias)
    assert result.exit_code != 0 and message in result.output
    assert store.audit.list() == []
    assert [m.alias for m in store.artifacts.alias_history("cifar", "resnet")] == ["best"]


@pytest.fixture
def secured(serve: Any, store: Any, model: Any) -> dict[str, Any]:
    tokens = {role: store.tokens.create(role, f"{role}-token", 0.0)[1] for role in ROLES}
    return {"url": serve(auth=True).url, "tokens": tokens}


def _post(secured: dict[str, Any], role: str, path: str, body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {secured['tokens'][role]}"}
    return httpx.post(f"{secured['url']}{path}", json=body, headers=headers, timeout=30)


def test_a_writer_promotes_over_rest_and_the_audit_log_names_its_token(store, secured):
    response = _post(secured, "writer", "/api/v1/artifacts/resnet/aliases", {"alias": "staging", "version": "v3"})
    assert response.status_code == 200, response.text
    assert response.json() | {"at": 0} == {
        "project": "cifar", "name": "resnet", "alias": "staging", "from_version": None, "to_version": 3,
        "run_id": response.json()["run_id"], "by": "writer-token", "at": 0, "changed": True,
    }  # fmt: skip
    assert store.artifacts.get("cifar", "resnet", "staging").version == 3
    (entry,) = store.audit.list()
    assert (entry.who, entry.source, entry.action, entry.target) == (
        "writer-token",
        "127.0.0.1",
        "alias.move",
        "cifar/resnet:staging",
    )
    history = httpx.get(
        f"{secured['url']}/api/v1/aliases",
        params={"name": "resnet", "alias": "staging"},
        headers={"Authorization": f"Bearer {secured['tokens']['viewer']}"},
    ).json()
    assert [(m["to_version"], m["by"]) for m in history["moves"]] == [(3, "writer-token")]


def test_a_viewer_cannot_promote_and_nothing_changes(store, secured):
    response = _post(secured, "viewer", "/api/v1/artifacts/resnet/aliases", {"alias": "production", "version": 1})
    assert response.status_code == 403 and "writer role" in response.json()["detail"]
    assert store.artifacts.get("cifar", "resnet", "production") is None
    assert store.audit.list() == []
    assert [m.alias for m in store.artifacts.alias_history("cifar", "resnet")] == ["best"]


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/api/v1/artifacts/resnet/aliases", {"alias": "production"}, 422, "version"),
        ("/api/v1/artifacts/resnet/aliases", {"version": 1}, 422, "alias"),
        ("/api/v1/artifacts/resnet/aliases", {"alias": "latest", "version": 1}, 400, "reserved"),
        ("/api/v1/artifacts/resnet/aliases", {"alias": "production", "version": 7}, 404, "no version '7'"),
        ("/api/v1/artifacts/images/aliases", {"alias": "production", "version": 1}, 400, "type 'model'"),
        ("/api/v1/artifacts/nope/aliases", {"alias": "production", "version": 1}, 404, "no artifact named 'nope'"),
        (
            "/api/v1/artifacts/resnet/aliases",
            {"alias": "production", "version": 1, "project": "other"},
            404,
            "project 'other'",
        ),
        ("/api/v1/artifacts/resnet/aliases", ["not", "an", "object"], 422, ""),
    ],
)
def test_malformed_promotions_get_clear_errors_and_change_nothing(store, secured, path, body, status, message):
    response = _post(secured, "writer", path, body)
    assert response.status_code == status, response.text
    assert message in response.text
    assert store.audit.list() == []
    assert [m.alias for m in store.artifacts.alias_history("cifar", "resnet")] == ["best"]


def test_concurrent_promotions_of_one_alias_leave_an_unbroken_history(store, model):
    import threading

    def promote_many(worker: int) -> None:
        for i in range(10):
            store.artifacts.move_alias(
                "cifar", "resnet", "production", 1 + (worker + i) % 3, by=f"w{worker}", now=float(i)
            )

    threads = [threading.Thread(target=promote_many, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    moves = list(reversed(store.artifacts.alias_history("cifar", "resnet", "production", limit=1000)))
    assert moves[0].from_version is None
    for before, after in zip(moves, moves[1:], strict=False):
        assert after.from_version == before.to_version != after.to_version  # each move starts where the last ended
    assert store.artifacts.get("cifar", "resnet", "production").version == moves[-1].to_version


REFUSE_AUDIT = {
    "sqlite": (
        ["CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log refused'); END"],
        ["DROP TRIGGER refuse_audit"],
    ),
    "postgres": (
        [
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'audit log refused'; END $$",
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
        ],
        ["DROP TRIGGER refuse_audit ON audit_log", "DROP FUNCTION refuse_audit()"],
    ),
}


def test_a_promotion_whose_audit_entry_cannot_be_written_is_not_made(store, store_backend, model, home):
    create, drop = REFUSE_AUDIT[store_backend]
    for statement in create:
        store.db.execute(statement)
    try:
        with pytest.raises(Exception, match="audit log refused"):
            store.artifacts.move_alias("cifar", "resnet", "production", 2, by="alice", now=1.0, source="cli")
    finally:
        for statement in drop:
            store.db.execute(statement)
    assert store.artifacts.get("cifar", "resnet", "production") is None  # the move rolled back with its entry
    assert [m.alias for m in store.artifacts.alias_history("cifar", "resnet")] == ["best"]
    store.artifacts.move_alias("cifar", "resnet", "production", 2, by="alice", now=2.0, source="cli")
    assert [(e.who, e.action) for e in store.audit.list()] == [("alice", "alias.move")]
