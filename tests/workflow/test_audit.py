"""The audit trail: every change through the API or the CLI appended with who, when, what and from where."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from collector.audit import cli_user
from collector.cli import main
from collector.store.base import ROLES, AuditEntry
from tests.helpers import wait_for

pytestmark = pytest.mark.every_backend


def cli(home: Any, *args: str) -> Any:
    return CliRunner().invoke(main, [*args, "--home", str(home)], catch_exceptions=False)


def test_entries_come_back_newest_first_and_filtered(store):
    for at, who, action in [
        (1.0, "alice", "token.create"),
        (2.0, "bob", "silence.create"),
        (3.0, "alice", "token.revoke"),
    ]:
        store.audit.append(AuditEntry(at, who, "cli", action, "t", {"n": at}))
    assert [e.at for e in store.audit.list()] == [3.0, 2.0, 1.0]
    assert [e.action for e in store.audit.list(who="alice")] == ["token.revoke", "token.create"]
    assert [e.action for e in store.audit.list(action="token")] == ["token.revoke", "token.create"]
    assert [e.action for e in store.audit.list(action="token.create")] == ["token.create"]
    assert store.audit.list(action="tok") == []  # a family is a whole dotted word
    assert [e.at for e in store.audit.list(since=2.0)] == [3.0, 2.0]
    assert store.audit.list(limit=1)[0].detail == {"n": 3.0}


@pytest.fixture
def api(serve: Any, store: Any, fake_run: Any) -> dict[str, Any]:
    fake_run("cifar", name="r1")
    tokens = {role: store.tokens.create(role, f"{role}-token", 0.0)[1] for role in ROLES}
    return {"url": serve(auth=True).url, "tokens": tokens}


def _call(api: dict[str, Any], method: str, path: str, role: str = "admin", **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {api['tokens'][role]}"}
    return httpx.request(method, f"{api['url']}{path}", headers=headers, timeout=30, **kwargs)


def test_api_changes_are_audited_with_the_token_name_and_the_client_address(store, api):
    created = _call(api, "POST", "/api/v1/tokens", json={"role": "viewer", "name": "ci"}).json()
    assert _call(api, "DELETE", f"/api/v1/tokens/{created['id']}").status_code == 200
    silence = _call(api, "POST", "/api/v1/silences", json={"rule": "loss-nan", "duration": 600, "comment": "known"})
    assert _call(api, "DELETE", f"/api/v1/silences/{silence.json()['id']}").status_code == 200
    assert _call(api, "POST", "/api/v1/runs/r1/notes", "writer", json={"text": "lr too high"}).status_code == 202
    assert _call(api, "POST", "/api/v1/runs/r1/tags", "writer", json={"tags": ["bad"]}).status_code == 202
    entries = list(reversed(store.audit.list()))
    run_id = store.runs.resolve("r1")
    assert [(e.who, e.source, e.action, e.target) for e in entries] == [
        ("admin-token", "127.0.0.1", "token.create", f"token {created['id']}"),
        ("admin-token", "127.0.0.1", "token.revoke", f"token {created['id']}"),
        ("admin-token", "127.0.0.1", "silence.create", f"silence {silence.json()['id']}"),
        ("admin-token", "127.0.0.1", "silence.end", f"silence {silence.json()['id']}"),
        ("writer-token", "127.0.0.1", "run.note", f"run {run_id}"),
        ("writer-token", "127.0.0.1", "run.tags", f"run {run_id}"),
    ]
    assert entries[0].detail == {"role": "viewer", "name": "ci"}  # never the token itself
    assert created["token"] not in json.dumps([e.detail for e in entries])
    assert entries[2].detail == {"rule": "loss-nan", "ends_at": pytest.approx(entries[2].at + 600), "comment": "known"}
    assert entries[4].detail["text"] == "lr too high" and entries[5].detail["tags"] == ["bad"]


def test_refused_changes_are_not_audited(store, api):
    assert _call(api, "POST", "/api/v1/tokens", "writer", json={"role": "admin"}).status_code == 403
    assert _call(api, "DELETE", "/api/v1/tokens/999").status_code == 404
    assert _call(api, "POST", "/api/v1/silences", json={"duration": 60}).status_code == 422
    assert _call(api, "POST", "/api/v1/runs/r1/notes", "viewer", json={"text": "x"}).status_code == 403
    assert _call(api, "POST", "/api/v1/runs/nope/notes", "writer", json={"text": "x"}).status_code == 404
    assert store.audit.list() == []


def test_get_audit_is_for_admins_and_takes_filters(store, api):
    _call(api, "POST", "/api/v1/tokens", json={"role": "viewer", "name": "ci"})
    _call(api, "POST", "/api/v1/runs/r1/tags", "writer", json={"tags": ["x"]})
    assert _call(api, "GET", "/api/v1/audit", "writer").status_code == 403
    every = _call(api, "GET", "/api/v1/audit").json()["entries"]
    assert [e["action"] for e in every] == ["run.tags", "token.create"]
    assert set(every[0]) == {"id", "at", "who", "source", "action", "target", "detail"}
    by_writer = _call(api, "GET", "/api/v1/audit", params={"who": "writer-token"}).json()["entries"]
    assert [e["action"] for e in by_writer] == ["run.tags"]
    tokens = _call(api, "GET", "/api/v1/audit", params={"action": "token", "since": every[1]["at"]}).json()["entries"]
    assert [e["action"] for e in tokens] == ["token.create"]
    bad = _call(api, "GET", "/api/v1/audit", params={"limit": 0})
    assert bad.status_code == 422 and "limit" in bad.text
    assert _call(api, "GET", "/api/v1/audit", params={"since": "yesterday"}).status_code == 422


def test_cli_changes_are_audited_as_the_os_user_from_cli(store, home):
    assert cli(home, "token", "create", "--role", "writer", "--name", "ci").exit_code == 0
    (token,) = store.tokens.list()
    assert cli(home, "token", "revoke", str(token["id"])).exit_code == 0
    assert cli(home, "silence", "add", "--rule", "loss-nan", "--for", "1h", "--comment", "fix coming").exit_code == 0
    assert cli(home, "silence", "end", "1").exit_code == 0
    entries = list(reversed(store.audit.list()))
    assert [(e.who, e.source, e.action) for e in entries] == [
        (cli_user(), "cli", "token.create"),
        (cli_user(), "cli", "token.revoke"),
        (cli_user(), "cli", "silence.create"),
        (cli_user(), "cli", "silence.end"),
    ]
    assert entries[2].detail["comment"] == "fix coming" and entries[2].detail["rule"] == "loss-nan"


def test_runwatch_audit_prints_a_table_json_lines_and_filters(store, home):
    store.audit.append(AuditEntry(1.0, "alice", "10.0.0.7", "token.create", "token 1", {"role": "viewer"}))
    store.audit.append(AuditEntry(2.0, "bob", "cli", "alias.move", "cifar/resnet:production", {"to": 3}))
    table = cli(home, "audit")
    assert table.exit_code == 0 and "alias.move" in table.output and "10.0.0.7" in table.output
    lines = [json.loads(line) for line in cli(home, "audit", "--json").output.splitlines()]
    assert [(e["who"], e["action"], e["detail"]) for e in lines] == [
        ("bob", "alias.move", {"to": 3}),
        ("alice", "token.create", {"role": "viewer"}),
    ]
    only_bob = [json.loads(line)["who"] for line in cli(home, "audit", "--json", "--who", "bob").output.splitlines()]
    assert only_bob == ["bob"]
    tokens = [
        json.loads(line)["action"] for line in cli(home, "audit", "--json", "--action", "token").output.splitlines()
    ]
    assert tokens == ["token.create"]
    assert cli(home, "audit", "--since", "1h").output.strip() == "no audit entries"  # both are from 1970
    assert "alias.move" in cli(home, "audit", "--since", "1970-01-01T00:00:01+00:00").output


def test_runwatch_audit_refuses_a_malformed_since(store, home):
    result = cli(home, "audit", "--since", "last tuesday")
    assert result.exit_code == 2 and "expected a duration such as 2h" in result.output


def test_a_user_text_with_control_characters_is_shown_inert(store, home):
    store.audit.append(AuditEntry(1.0, "eve\x1b[2J", "cli", "run.note", "run x", {"text": "[bold]hi[/]"}))
    output = cli(home, "audit").output
    assert "\x1b" not in output and "\\x1b" in output


def test_notes_added_over_rest_reach_the_run_and_the_audit_log(store, api, collector):
    assert _call(api, "POST", "/api/v1/runs/r1/notes", "writer", json={"text": "checked"}).status_code == 202
    run_id = store.runs.resolve("r1")
    wait_for(lambda: any(text == "checked" for _, text in store.runs.notes(run_id)), what="the note stored")
    assert [e.action for e in store.audit.list()] == ["run.note"]


def test_without_auth_the_caller_is_open_and_a_nameless_token_is_named_by_id(store, serve, fake_run):
    fake_run("cifar", name="r1")
    open_url = serve().url
    assert httpx.post(f"{open_url}/api/v1/runs/r1/tags", json={"tags": ["x"]}, timeout=30).status_code == 202
    token_id, secret = store.tokens.create("writer", "", 0.0)
    secured = serve(auth=True).url
    headers = {"Authorization": f"Bearer {secret}"}
    assert (
        httpx.post(f"{secured}/api/v1/runs/r1/tags", json={"tags": ["y"]}, headers=headers, timeout=30).status_code
        == 202
    )
    assert [e.who for e in reversed(store.audit.list())] == ["open", f"token {token_id}"]
