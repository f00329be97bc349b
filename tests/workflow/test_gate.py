"""``runwatch gate``: exit 0 when every requirement holds, 1 when one fails, 2 on a usage or lookup error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from collector.cli import main
from tests.helpers import free_port

pytestmark = pytest.mark.every_backend

ROOT = Path(__file__).resolve().parents[2]


def gate(home: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["gate", "--home", str(home), *args], catch_exceptions=False)


@pytest.fixture
def good(fake_run):
    run = fake_run("cifar", name="good", config={"optimizer": "adam"}, tags=["candidate"])
    run.log({"val/acc": 0.80, "loss": 0.9}, step=1)
    run.log({"val/acc": 0.93, "loss": 0.21}, step=2)
    run.status("finished")
    return run


def test_every_requirement_holding_exits_0_with_a_table(good, home):
    result = gate(home, "good", "--require", "metrics.val/acc >= 0.9", "--require", "metrics.loss < 0.3")
    assert result.exit_code == 0, result.output
    assert "metrics.val/acc >= 0.9" in result.output and "0.93" in result.output
    assert "pass" in result.output and "gate passed" in result.output


def test_one_failing_requirement_exits_1_and_names_it(good, home):
    result = gate(home, good.id, "--require", "metrics.val/acc >= 0.95", "--require", "metrics.loss < 0.3")
    assert result.exit_code == 1
    assert "FAIL" in result.output and "gate failed: 1 of 2" in result.output


def test_json_output_is_the_verdict_for_machines(good, home):
    result = gate(
        home, "good", "--require", "metrics.val/acc >= 0.95", "--require", "params.optimizer = adam", "--json"
    )
    verdict = json.loads(result.output)
    assert result.exit_code == 1 and verdict["passed"] is False
    assert verdict["run"]["id"] == good.id
    assert [(c["field"], c["value"], c["passed"]) for c in verdict["checks"]] == [
        ("metrics.val/acc", 0.93, False),
        ("params.optimizer", "adam", True),
    ]


def test_a_missing_metric_fails_with_a_clear_message(good, home):
    result = gate(home, "good", "--require", "metrics.val/f1 > 0.5", "--json")
    verdict = json.loads(result.output)
    assert result.exit_code == 1
    assert verdict["checks"][0]["reason"] == "run good has no metric metrics.val/f1"


@pytest.mark.parametrize("condition", ["metrics.loss < 0.3", "metrics.loss > 0.3", "metrics.loss != 0.3"])
def test_a_nan_value_fails_whatever_the_comparison(fake_run, home, condition):
    run = fake_run("cifar", name="diverged")
    run.log({"loss": float("nan")}, step=1)
    result = gate(home, "diverged", "--require", condition, "--json")
    verdict = json.loads(result.output)
    assert result.exit_code == 1
    assert verdict["checks"][0]["value"] == "NaN" and "NaN never passes" in verdict["checks"][0]["reason"]


def test_a_regression_past_the_allowance_against_a_baseline_fails(fake_run, good, home):
    baseline = fake_run("cifar", name="baseline")
    baseline.log({"val/acc": 0.95, "loss": 0.2}, step=1)
    within = gate(
        home, "good", "--require", "metrics.val/acc >= 0.9", "--against", "baseline", "--max-regression", "3%"
    )
    assert within.exit_code == 0, within.output
    past = gate(
        home, "good", "--require", "metrics.val/acc >= 0.9", "--against", "baseline", "--max-regression", "1%", "--json"
    )
    verdict = json.loads(past.output)
    assert past.exit_code == 1 and verdict["baseline"]["name"] == "baseline"
    regression = verdict["checks"][1]
    assert regression["field"] == "metrics.val/acc" and not regression["passed"]
    assert "worse than the baseline by 0.02" in regression["reason"]


def test_lower_is_better_metrics_regress_upwards(fake_run, good, home):
    baseline = fake_run("cifar", name="baseline")
    baseline.log({"loss": 0.2}, step=1)
    result = gate(home, "good", "--require", "metrics.loss < 0.3", "--against", "baseline", "--max-regression", "0.005")
    assert result.exit_code == 1  # 0.21 > 0.2 + 0.005
    assert (
        gate(
            home, "good", "--require", "metrics.loss < 0.3", "--against", "baseline", "--max-regression", "0.02"
        ).exit_code
        == 0
    )


def test_best_of_gates_the_best_matching_run(fake_run, good, home):
    better = fake_run("cifar", name="better", tags=["candidate"])
    better.log({"val/acc": 0.97}, step=1)
    not_candidate = fake_run("cifar", name="outsider")
    not_candidate.log({"val/acc": 0.99}, step=1)
    result = gate(
        home, "--best-of", "project = 'cifar' and tags.candidate", "--require", "metrics.val/acc >= 0.9", "--json"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["run"]["name"] == "better"
    lowest_loss = gate(
        home,
        "--best-of",
        "tags.candidate",
        "--metric",
        "val/acc",
        "--mode",
        "min",
        "--require",
        "metrics.val/acc >= 0.9",
        "--json",
    )
    assert json.loads(lowest_loss.output)["run"]["name"] == "good"


def test_best_of_with_no_match_is_a_lookup_error(good, home):
    result = gate(home, "--best-of", "project = 'nothing'", "--require", "metrics.val/acc >= 0.9")
    assert result.exit_code == 2 and "no run matches the --best-of filter" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["good", "--require", "metrics.val/acc >>= 0.9"], "--require"),
        (["good", "--require", "metrics.val/acc >= 0.9 and metrics.loss < 1"], "one comparison each"),
        (["good", "--require", "tags.candidate = 1"], "tags cannot be compared"),
        (["good", "--require", "metrics.loss < 'low'"], "metrics compare with numbers"),
        (["good"], "at least one --require"),
        (["--require", "metrics.loss < 1"], "either RUN or --best-of"),
        (["good", "--best-of", "tags.x", "--require", "metrics.loss < 1"], "either RUN or --best-of"),
        (["good", "--require", "metrics.loss < 1", "--against", "good", "--max-regression", "lots"], "percentage"),
        (["--best-of", "tags.candidate", "--require", "status = finished"], "--metric"),
        (["--best-of", "project = ", "--require", "metrics.loss < 1"], "--best-of"),
        (["no-such-run", "--require", "metrics.loss < 1"], "no run with id or name 'no-such-run'"),
        (["good", "--require", "metrics.loss < 1", "--against", "nope"], "no run with id or name 'nope'"),
    ],
)
def test_usage_and_lookup_errors_exit_2_with_a_clear_message(good, home, args, message):
    result = gate(home, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_status_and_params_requirements_use_the_same_grammar(good, home):
    result = gate(
        home,
        "good",
        "--require",
        "status = finished",
        "--require",
        "params.optimizer != 'sgd'",
        "--require",
        "step >= 2",
    )
    assert result.exit_code == 0, result.output


def test_wait_blocks_until_the_run_ends_then_gates_it(fake_run, home):
    run = fake_run("cifar", name="training")
    run.log({"val/acc": 0.91}, step=1)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "collector", "gate", "training", "--home", str(home), "--wait", "--timeout", "60",
         "--require", "metrics.val/acc >= 0.9"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        assert "waiting for run training" in process.stderr.readline()  # it is waiting: the run is running
        run.log({"val/acc": 0.94}, step=2)
        run.status("finished")
        out, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, out
    assert "0.94" in out and "gate passed" in out


def test_wait_gives_up_after_the_timeout_with_exit_2(fake_run, home):
    fake_run("cifar", name="forever").log({"val/acc": 0.91}, step=1)
    result = gate(home, "forever", "--wait", "--timeout", "0", "--require", "metrics.val/acc >= 0.9")
    assert result.exit_code == 2 and "still running after 0s" in result.output


@pytest.fixture
def remote(serve, store, good):
    """The API served with auth on, and a viewer token: what a CI runner holds instead of the database."""
    return {"url": serve(auth=True).url, "token": store.tokens.create("viewer", "ci", 0.0)[1]}


def test_a_remote_gate_reads_the_run_from_the_api_with_a_viewer_token(fake_run, remote, tmp_path):
    diverged = fake_run("cifar", name="diverged")
    diverged.log({"loss": float("nan")}, step=1)
    nowhere = tmp_path / "no-local-store"
    args = ["--url", remote["url"], "--token", remote["token"], "--require", "metrics.val/acc >= 0.9"]
    assert gate(nowhere, "good", *args).exit_code == 0
    assert gate(nowhere, "good", *args[:-1], "metrics.val/acc >= 0.95").exit_code == 1
    nan = gate(nowhere, "diverged", *args[:4], "--require", "metrics.loss < 1", "--json")
    assert nan.exit_code == 1 and json.loads(nan.output)["checks"][0]["value"] == "NaN"
    best = gate(nowhere, "--best-of", "tags.candidate", *args, "--json")
    assert best.exit_code == 0 and json.loads(best.output)["run"]["name"] == "good"


def test_a_remote_gate_with_a_bad_token_or_filter_is_a_lookup_error(remote, home):
    bad_token = gate(home, "good", "--url", remote["url"], "--token", "rw_wrong", "--require", "metrics.loss < 1")
    assert bad_token.exit_code == 2 and "answered 401" in bad_token.output
    missing = gate(home, "nope", "--url", remote["url"], "--token", remote["token"], "--require", "metrics.loss < 1")
    assert missing.exit_code == 2 and "no run with id or name 'nope'" in missing.output
    bad_filter = gate(
        home,
        "--best-of",
        "project =",
        "--url",
        remote["url"],
        "--token",
        remote["token"],
        "--require",
        "metrics.loss < 1",
    )
    assert bad_filter.exit_code == 2 and "--best-of" in bad_filter.output and "expected a value" in bad_filter.output


def test_an_api_that_does_not_answer_is_a_lookup_error(home):
    result = gate(home, "good", "--url", f"http://127.0.0.1:{free_port()}", "--require", "metrics.loss < 1")
    assert result.exit_code == 2 and "did not answer" in result.output


def test_best_of_never_picks_a_nan_run_over_a_real_one(fake_run, good, home):
    diverged = fake_run("cifar", name="diverged", tags=["candidate"])
    diverged.log({"val/acc": float("nan")}, step=1)
    for mode in ("max", "min"):
        result = gate(
            home, "--best-of", "tags.candidate", "--mode", mode, "--require", "metrics.val/acc >= 0.5", "--json"
        )
        assert json.loads(result.output)["run"]["name"] == "good", mode
