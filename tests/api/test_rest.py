"""REST endpoints under /api/v1, against a real store and a real served app."""

from __future__ import annotations

import csv
import io
import math
import struct
import time
from typing import Any

import pytest
from click.testing import CliRunner

from alerts import Transition
from collector.cli import main
from collector.store.base import DeadLetter
from tests.helpers import wait_for

pytestmark = pytest.mark.every_backend

SPECIALS = [float("nan"), float("inf"), float("-inf"), -0.0, 0.0, 5e-324, 1.7976931348623157e308, 0.1]


def bits(value: float) -> bytes:
    return struct.pack("<d", value)


def test_health_and_readiness(client: Any) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/api/v1/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_runs_list_filters_sorts_and_pages_with_a_cursor(client: Any, fake_run: Any) -> None:
    for i in range(7):
        run = fake_run("cifar", name=f"run-{i}", config={"lr": i / 10})
        run.log({"loss": 1.0 / (i + 1)}, step=i)
    page = client.get("/api/v1/runs", params={"filter": "params.lr >= 0.2", "sort": "-metrics.loss", "limit": 3}).json()
    assert [r["name"] for r in page["runs"]] == ["run-2", "run-3", "run-4"]
    assert page["runs"][0]["metrics"]["loss"] == {"last": 1 / 3, "step": 2}
    assert page["runs"][0]["params"] == {"lr": 0.2}
    seen = [r["name"] for r in page["runs"]]
    while page["next_cursor"]:
        page = client.get(
            "/api/v1/runs",
            params={"filter": "params.lr >= 0.2", "sort": "-metrics.loss", "limit": 3, "cursor": page["next_cursor"]},
        ).json()
        seen += [r["name"] for r in page["runs"]]
    assert seen == ["run-2", "run-3", "run-4", "run-5", "run-6"]


def test_a_bad_filter_is_a_400_with_the_position(client: Any) -> None:
    response = client.get("/api/v1/runs", params={"filter": "status in (running"})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail["position"] == 18 and "expected ')'" in detail["error"]
    response = client.get("/api/v1/runs", params={"sort": "bogus"})
    assert response.status_code == 400 and response.json()["detail"]["error"].startswith("invalid sort")
    assert client.get("/api/v1/runs", params={"cursor": "!!"}).status_code == 400


def test_run_detail_by_id_or_unique_name(client: Any, fake_run: Any, store: Any) -> None:
    run = fake_run("cifar", name="detailed", config={"lr": 0.1}, tags=["b", "a"], env={"python": "3.11"})
    run.log({"loss": float("nan"), "acc": float("inf")}, step=3)
    run.emit("note", {"text": "looks good"})
    run.emit("alert", {"title": "slow", "text": "epoch took 2h", "level": "warn"})
    run.emit("artifact", {"name": "model.pt", "uri": "s3://b/model.pt", "size": 10})
    body = client.get(f"/api/v1/runs/{run.id}").json()
    assert body["name"] == "detailed" and body["tags"] == ["a", "b"] and body["params"] == {"lr": 0.1}
    assert body["env"] == {"python": "3.11"}
    assert body["metrics"]["loss"]["last"] == "NaN" and body["metrics"]["acc"]["last"] == "Infinity"
    assert body["notes_log"][0]["text"] == "looks good"
    assert body["user_alerts"][0]["title"] == "slow"
    assert body["artifacts"][0]["uri"] == "s3://b/model.pt"
    assert client.get("/api/v1/runs/detailed").json()["id"] == run.id
    assert client.get("/api/v1/runs/nope").status_code == 404


def test_metrics_downsampled_keep_min_max_last_and_nans(client: Any, fake_run: Any) -> None:
    run = fake_run()
    rows = [(step, {"loss": 1.0}) for step in range(10_000)]
    rows[5_000] = (5_000, {"loss": 1e9})  # a spike
    rows[7_777] = (7_777, {"loss": float("nan")})
    rows[8_888] = (8_888, {"loss": float("-inf")})
    run.log_many(rows)
    body = client.get(f"/api/v1/runs/{run.id}/metrics", params={"keys": "loss", "max_points": 100}).json()
    loss = body["series"]["loss"]
    assert loss["downsampled"] and len(loss["steps"]) <= 100
    assert loss["count"] == 10_000
    assert max(v for v in loss["max"] if isinstance(v, float)) == 1e9  # the spike survives
    assert sum(loss["nans"]) == 1  # so does the NaN
    assert "-Infinity" in loss["min"]
    assert loss["steps"][-1] == 9_999 and loss["values"][-1] == 1.0
    assert None not in loss["values"] + loss["min"] + loss["max"]


def test_max_points_zero_returns_every_point_exactly(client: Any, fake_run: Any) -> None:
    run = fake_run()
    for step, value in enumerate(SPECIALS):
        run.log({"v": value}, step=step)
    body = client.get(f"/api/v1/runs/{run.id}/metrics", params={"max_points": 0}).json()
    series = body["series"]["v"]
    assert series["steps"] == list(range(len(SPECIALS)))
    assert series["values"][:3] == ["NaN", "Infinity", "-Infinity"]
    assert [bits(v) for v in series["values"][3:]] == [bits(v) for v in SPECIALS[3:]]


def test_metrics_step_range(client: Any, fake_run: Any) -> None:
    run = fake_run()
    run.log_many([(step, {"x": float(step)}) for step in range(1000)])
    series = client.get(
        f"/api/v1/runs/{run.id}/metrics", params={"from_step": 100, "to_step": 199, "max_points": 0}
    ).json()["series"]["x"]
    assert series["steps"] == list(range(100, 200))


def test_export_csv_is_exact(client: Any, fake_run: Any) -> None:
    run = fake_run()
    for step, value in enumerate(SPECIALS):
        run.log({"v": value, 'w,eird"key': float(step)}, step=step)
    response = client.get(f"/api/v1/runs/{run.id}/export.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["step", "ts", "key", "value"]
    values = [float(r[3]) for r in rows[1:] if r[2] == "v"]
    assert [bits(v) for v in values] == [bits(v) for v in SPECIALS]
    assert {r[2] for r in rows[1:]} == {"v", 'w,eird"key'}


def test_the_cli_and_the_api_export_the_same_bytes(client: Any, fake_run: Any, settings: Any, tmp_path: Any) -> None:
    run = fake_run()
    for step, value in enumerate(SPECIALS):
        run.log({"-loss": value, "=cmd": 1.0, 'w,eird"key': float(step), "plain": -0.0}, step=step)
    served = client.get(f"/api/v1/runs/{run.id}/export.csv").content
    out = tmp_path / "export.csv"
    result = CliRunner().invoke(main, ["export", run.id, "--home", str(settings.home), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == served
    assert b'"-loss"' in served and b'"=cmd"' in served  # a spreadsheet never runs a key as a formula


def test_compare_marks_differing_params_and_overlays_series(client: Any, fake_run: Any) -> None:
    a = fake_run(name="a", config={"lr": 0.1, "batch": 64})
    b = fake_run(name="b", config={"lr": 0.01, "batch": 64, "warmup": 5})
    for run in (a, b):
        run.log_many([(step, {"loss": 1.0 / (step + 1)}) for step in range(50)])
    body = client.get("/api/v1/compare", params={"runs": f"{a.id},b", "keys": "loss"}).json()
    assert [r["name"] for r in body["runs"]] == ["a", "b"]
    params = {p["key"]: p for p in body["params"]}
    assert params["lr"]["differs"] and params["warmup"]["differs"] and not params["batch"]["differs"]
    assert params["lr"]["values"] == {a.id: 0.1, b.id: 0.01}
    assert len(body["series"][b.id]["loss"]["steps"]) == 50
    assert client.get("/api/v1/compare", params={"runs": "a,missing"}).status_code == 404


def test_alerts_from_the_engine_table_and_from_runs(client: Any, fake_run: Any, store: Any) -> None:
    run = fake_run(name="alerting")
    run.emit("alert", {"title": "diverged", "text": "loss is NaN", "level": "error"})
    body = client.get("/api/v1/alerts").json()
    assert body["alerts"] == []
    assert body["user_alerts"][0]["title"] == "diverged" and body["user_alerts"][0]["run_name"] == "alerting"
    nan = Transition(
        rule="loss_nan",
        run_id=run.id,
        state="firing",
        kind="condition",
        episode=1,
        seq=0,
        at=time.time(),
        severity="critical",
        notify=(),
        title="loss is NaN",
        text="<b>NaN</b>",
        metric="loss",
        value=math.nan,
        step=7,
    )
    store.alerts.transaction(lambda: store.alerts.record_transitions_in_tx([nan]))  # as the engine records it
    body = client.get("/api/v1/alerts", params={"state": "firing"}).json()
    assert body["alerts"][0]["rule"] == "loss_nan" and body["alerts"][0]["value"] == "NaN"
    assert body["alerts"][0]["run_name"] == "alerting"
    assert client.get("/api/v1/alerts", params={"run": run.id}).json()["alerts"][0]["state"] == "firing"
    assert client.get(f"/api/v1/runs/{run.id}").json()["alerts"][0]["rule"] == "loss_nan"


def test_dead_letters(client: Any, store: Any) -> None:
    letter = DeadLetter("s", "1-0", "undecodable MessagePack body", "r1", 12, b"\xff\x00", time.time())
    store.write([], [letter], time.time())
    body = client.get("/api/v1/dead-letters").json()
    assert body["total"] == 1
    assert body["items"][0]["reason"] == "undecodable MessagePack body" and body["items"][0]["run_id"] == "r1"


def test_responses_carry_csp_nosniff_and_no_framing(client: Any) -> None:
    for path in ("/", "/api/v1/runs", "/static/app.js"):
        response = client.get(path)
        assert response.status_code == 200
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
    assert (
        client.get("/static/app.js").headers["content-type"].startswith(("text/javascript", "application/javascript"))
    )
    assert "openapi" in client.get("/api/v1/openapi.json").json()


def test_notes_and_tags_go_through_the_stream_to_the_store(
    client: Any, collector: Any, fake_run: Any, store: Any
) -> None:
    run = fake_run(name="annotated")
    assert client.post(f"/api/v1/runs/{run.id}/notes", json={"text": "lr too high?"}).status_code == 202
    assert client.post(f"/api/v1/runs/{run.id}/tags", json={"tags": ["keep"]}).status_code == 202
    wait_for(lambda: store.runs.notes(run.id) and "keep" in store.runs.get(run.id).tags, what="note and tag stored")
    assert store.runs.notes(run.id)[0][1] == "lr too high?"
    assert client.post(f"/api/v1/runs/{run.id}/notes", json={"text": ""}).status_code == 422


def test_nan_is_never_null_in_the_runs_list(client: Any, fake_run: Any) -> None:
    run = fake_run(name="nan")
    run.log({"loss": math.nan}, step=1)
    listed = client.get("/api/v1/runs").json()["runs"][0]
    assert listed["metrics"]["loss"]["last"] == "NaN"


def test_security_headers_are_on_every_answer_a_crash_included(make_app: Any) -> None:
    # httpx's own ASGI transport, not starlette.testclient: the latter now warns about httpx.
    import asyncio

    import httpx

    app = make_app()

    def crash() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/v1/crash", crash)

    async def answers() -> list[tuple[str, int, httpx.Headers]]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            paths = ("/api/v1/crash", "/api/v1/runs/nope", "/nope")
            return [(p, (r := await http.get(p)).status_code, r.headers) for p in paths]

    got = asyncio.run(answers())
    assert [(path, status) for path, status, _ in got] == [
        ("/api/v1/crash", 500),
        ("/api/v1/runs/nope", 404),
        ("/nope", 404),
    ]
    for path, _, headers in got:
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["x-content-type-options"] == "nosniff", path
