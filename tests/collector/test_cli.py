"""The runwatch command line: tables, exact exports, clear errors."""

from __future__ import annotations

import csv
import io
import json
import math
import struct

import pytest
from click.testing import CliRunner

import emitter
from collector.cli import main
from tests.helpers import wait_for

pytestmark = pytest.mark.every_backend

VALUES = [0.5, float("nan"), float("inf"), float("-inf"), -0.0, 1e-300]


@pytest.fixture
def logged_run(emitter_env, collector, store):
    run = emitter.init("cli", name="cli-run", config={"lr": 0.01}, tags=["baseline"])
    for step, value in enumerate(VALUES):
        run.log({"loss": value, "acc": step / 10}, step=step)
    run.finish()
    wait_for(lambda: store.series.count_points(run.id) == 2 * len(VALUES), what="points stored")
    return run


def invoke(home, *args):
    return CliRunner().invoke(main, [*args[:1], "--home", str(home), *args[1:]], catch_exceptions=False)


def test_help_lists_every_command():
    result = CliRunner().invoke(main, ["--help"])
    for command in ("serve", "collect", "demo", "runs", "show", "tail", "sync", "export", "dead-letters"):
        assert command in result.output


def test_runs_shows_a_table_with_status_step_and_latest_metrics(logged_run, home):
    result = invoke(home, "runs")
    assert result.exit_code == 0
    assert "cli-run" in result.output and "finished" in result.output and "loss=" in result.output


def test_show_accepts_a_unique_name_and_prints_params_and_summary(logged_run, home):
    result = invoke(home, "show", "cli-run")
    assert result.exit_code == 0
    assert logged_run.id in result.output and "lr" in result.output and "baseline" in result.output
    as_json = json.loads(invoke(home, "show", logged_run.id, "--json").output)
    assert as_json["params"] == {"lr": 0.01} and as_json["status"] == "finished"


def test_an_unknown_run_is_a_clear_error(logged_run, home):
    result = invoke(home, "show", "no-such-run")
    assert result.exit_code == 1
    assert "'no-such-run': no run has that id or name" in result.output


def test_export_csv_gives_back_every_value_exactly(logged_run, home):
    result = invoke(home, "export", "cli-run", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    loss = [float(r["value"]) for r in rows if r["key"] == "loss"]
    assert [struct.pack("<d", v) for v in loss] == [struct.pack("<d", v) for v in VALUES]
    assert {r["key"] for r in rows} == {"loss", "acc"} and len(rows) == 12


def test_export_jsonl_names_non_finite_values(logged_run, home):
    lines = [
        json.loads(line) for line in invoke(home, "export", logged_run.id, "--format", "jsonl").output.splitlines()
    ]
    loss = [line["value"] for line in lines if line["key"] == "loss"]
    assert loss[1:4] == ["NaN", "Infinity", "-Infinity"]
    assert math.copysign(1, loss[4]) == -1.0


def test_dead_letters_says_so_when_there_are_none(logged_run, home):
    assert "no dead letters" in invoke(home, "dead-letters").output


def test_reading_commands_explain_a_missing_database(tmp_path):
    result = CliRunner().invoke(main, ["runs", "--home", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert "start `runwatch serve` first" in result.output


def test_tail_follows_a_run_live_from_the_stream(emitter_env, collector, store, home, redis_url, prefix):
    import signal
    import subprocess
    import sys
    import threading
    from typing import IO

    from tests.helpers import ROOT

    run = emitter.init("tail", name="tailed")
    run.flush(10)
    wait_for(lambda: store.runs.get(run.id), what="the run stored")
    tail = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "collector",
            "tail",
            run.id,
            "--home",
            str(home),
            "--redis-url",
            redis_url,
            "--prefix",
            prefix,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**emitter_env, "COLUMNS": "200"},
    )
    assert tail.stdout is not None
    assert tail.stdout.readline().startswith("following run"), "tail announces where it starts reading"
    lines: list[str] = []

    def read(stdout: IO[str]) -> None:
        for line in stdout:  # as tail prints them
            lines.append(line)

    reader = threading.Thread(target=read, args=(tail.stdout,), daemon=True)
    reader.start()
    for step in range(3):
        run.log({"loss": 0.5 + step}, step=step)
    run.finish()
    wait_for(lambda: any("finished" in line for line in lines), what="tail to print the run's last event")
    tail.send_signal(signal.SIGINT)
    tail.wait(20)
    reader.join(20)
    output = "".join(lines)
    assert "step        0  loss=0.5" in output
    assert "step        2  loss=2.5" in output
    assert "status" in output and "finished" in output


def test_silence_add_list_and_end(home, store):
    runner = CliRunner()
    added = runner.invoke(
        main,
        [
            "silence",
            "add",
            "--home",
            str(home),
            "--rule",
            "loss-nan",
            "--project",
            "cifar",
            "--for",
            "2h",
            "--comment",
            "known NaNs",
        ],
    )
    assert added.exit_code == 0, added.output
    assert added.output.startswith("silence 1 until ")
    listed = runner.invoke(main, ["silence", "list", "--home", str(home)])
    assert (
        "active" in listed.output and "rule=loss-nan project=cifar" in listed.output and "known NaNs" in listed.output
    )
    ended = runner.invoke(main, ["silence", "end", "--home", str(home), "1"])
    assert ended.exit_code == 0 and "silence 1 ended" in ended.output
    assert runner.invoke(main, ["silence", "list", "--home", str(home)]).output.strip() == "no silences"
    again = runner.invoke(main, ["silence", "end", "--home", str(home), "1"])
    assert again.exit_code == 1 and "no silence 1 that is still on" in again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--for", "1h"], "at least one of --rule, --run, --project"),
        (["--rule", "x", "--for", "soon"], "cannot parse duration"),
        (["--rule", "x", "--for", "100d"], "at most 90d"),
        (["--rule", "x", "--for", "never"], "at most 90d"),
    ],
)
def test_a_bad_silence_is_refused_with_the_reason_and_creates_nothing(home, store, args, message):
    result = CliRunner().invoke(main, ["silence", "add", "--home", str(home), *args])
    assert result.exit_code == 2 and message in result.output, result.output
    assert CliRunner().invoke(main, ["silence", "list", "--home", str(home), "--all"]).output.strip() == "no silences"


# ----------------------------------------------------------------- rules check


def rules_check(*args: str):
    return CliRunner().invoke(main, ["rules", "check", *args])


def test_rules_check_reports_every_problem_of_a_file_in_one_pass(tmp_path):
    path = tmp_path / "alerts.yaml"
    path.write_text("""\
channels:
  meta: {type: webhook, url: "http://2852039166/latest/meta-data/"}
  hook: {type: slack, webhook_url: "file:///etc/passwd"}
rules:
  - {name: a, metric: loss, condition: ">> 10"}
  - {name: b, metric: loss, condition: nonfinite, notify: [nowhere]}
  - {name: c, on: heartbeat_lost}
""")
    result = rules_check(str(path))

    assert result.exit_code == 1
    reported = [line for line in result.output.splitlines() if line.startswith(f"{path}:")]
    expected = [
        ":2: channel 'meta': field 'url': refused target 2852039166 (= 169.254.169.254): a cloud metadata service",
        ":3: channel 'hook': field 'webhook_url': must be an http:// or https:// URL",
        ":5: rule 'a': field 'condition': cannot parse '>> 10'",
        ":6: rule 'b': field 'notify': unknown channel 'nowhere' (configured: meta, hook)",
        ":7: rule 'c': field 'after': required with 'on: heartbeat_lost'",
    ]
    assert len(reported) == len(expected), result.output
    for line, start in zip(reported, expected, strict=True):
        assert line.startswith(f"{path}{start}"), line


def test_rules_check_refuses_a_private_target_until_the_file_allows_it(tmp_path):
    path = tmp_path / "alerts.yaml"
    channel = "channels: {hook: {type: webhook, url: 'http://10.1.2.3:9093/hook'}}\nrules: []\n"
    path.write_text(channel)
    refused = rules_check(str(path))
    assert refused.exit_code == 1 and "set allow_private_targets: true" in refused.output

    path.write_text("allow_private_targets: true\n" + channel)
    allowed = rules_check(str(path))
    assert allowed.exit_code == 0, allowed.output


METRIC_RULES = """\
rules:
  - {name: any-loss,  metric: "*loss", condition: nonfinite}
  - {name: acc-ish,   metric: "ac?", condition: "> 0.9"}
  - {name: val-any,   metric: "val/*", condition: nonfinite}
  - {name: grad,      metric: grad_norm, condition: "> 100"}
  - {name: lost,      on: heartbeat_lost, after: 60s}
"""


def test_rules_check_names_metric_patterns_that_match_no_metric_the_store_has(logged_run, home, tmp_path):
    path = tmp_path / "alerts.yaml"
    path.write_text(METRIC_RULES)
    result = rules_check(str(path), "--home", str(home))

    assert result.exit_code == 0, result.output  # a warning: runs that log val/... may come later
    warnings = [line for line in result.output.splitlines() if line.startswith("warning")]
    assert len(warnings) == 2, result.output
    assert "rule 'val-any': metric 'val/*' matches none of the 2 metric keys" in warnings[0]
    assert "rule 'grad': metric 'grad_norm' matches none of the 2 metric keys" in warnings[1]


def test_rules_check_says_when_it_could_not_check_metric_names(tmp_path):
    path = tmp_path / "alerts.yaml"
    path.write_text(METRIC_RULES)
    result = rules_check(str(path), "--home", str(tmp_path / "nowhere"))

    assert result.exit_code == 0, result.output
    assert "metric names not checked" in result.output and "--home" in result.output


EVIL = "evil\x1b[2J\x1b]0;pwned\x07\u202eeman [bold]marked[/bold]"


def test_runs_and_show_never_print_terminal_escapes_or_markup_from_user_text(fake_run, home):
    run = fake_run(EVIL, name=EVIL, config={EVIL: EVIL}, tags=[EVIL])
    run.log({EVIL: 1.0}, step=0)
    run.emit("note", {"text": EVIL})
    for args in (("runs",), ("show", run.id)):
        output = invoke(home, *args).output
        assert "\x1b" not in output and "\x07" not in output and "\u202e" not in output
        assert "\\x1b" in output  # shown, visibly, instead
        assert "[bold]" in output  # markup printed as text, not applied
