"""``runwatch gate``: pass or fail a CI/CD step on a run's metrics (exit 0 pass, 1 fail, 2 usage or lookup error).

\b
    runwatch gate RUN --require "metrics.val/acc >= 0.9" --require "metrics.loss < 0.3"
    runwatch gate RUN --require "metrics.val/acc >= 0.9" --against BASELINE --max-regression 1%
    runwatch gate --best-of "project = 'cifar' and tags.candidate" --require "metrics.val/acc >= 0.9"
    runwatch gate RUN --wait --timeout 7200 --require "status = finished" --require "metrics.loss < 0.3"
    runwatch gate RUN --url https://runwatch.internal --require "metrics.val/acc >= 0.9"   # token: RUNWATCH_TOKEN

Like ``runwatch runs``/``show`` it reads the store the settings name (``--home``,
``RUNWATCH_DATABASE_URL``); with ``--url`` it asks a runwatch API instead (a viewer token in
``--token`` or ``RUNWATCH_TOKEN``), which is what a CI runner usually can reach. Where runs come
from is ``gate_runs.py``; the decision itself is ``collector/gate.py``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from rich.table import Table

from emitter.events import ENDED_STATUSES

from ..gate import Mode, Verdict, evaluate, parse_allowance, ranking, verdict_json
from ..store.records import RunRecord
from ..store.search import Comparison, FilterError, parse_comparison
from .common import common_options, console, err_console, existing_store, number, settings_from, shown
from .gate_runs import ApiRuns, GateError, RunSource, StoreRuns

POLL_SECONDS = 1.0  # how often --wait looks at the run
PROGRESS_EVERY = 30.0  # seconds between --wait's progress lines
DONE = frozenset({*ENDED_STATUSES, "lost"})  # lost: the collector's verdict on a run that went silent


@click.command()
@common_options
@click.argument("run_ref", metavar="[RUN]", required=False)
@click.option("--require", "requirements", multiple=True, metavar="COND", help="A comparison that must hold (repeat).")
@click.option("--against", "baseline_ref", metavar="RUN", help="A baseline run the metrics must not regress from.")
@click.option(
    "--max-regression",
    default="0%",
    show_default=True,
    help="How much worse than --against a metric may be: 1% of the baseline, or an amount such as 0.005.",
)
@click.option(
    "--best-of", "best_of", metavar="FILTER", help="Gate the best run matching this runs filter instead of RUN."
)
@click.option("--metric", help="--best-of ranks by this metric [the first --require on a metric].")
@click.option("--mode", type=click.Choice(["max", "min"]), help="--best-of: is higher or lower better [from its >, <].")
@click.option("--wait", is_flag=True, help="Wait until the run (every --best-of run) has ended.")
@click.option("--timeout", type=float, default=3600.0, show_default=True, help="Seconds --wait waits (then exit 2).")
@click.option("--url", help="Read runs from this runwatch API instead of the local store (e.g. from CI).")
@click.option("--token", envvar="RUNWATCH_TOKEN", help="With --url: a viewer token [env RUNWATCH_TOKEN].")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def gate(
    home: Path | None,
    redis_url: str | None,
    run_ref: str | None,
    requirements: tuple[str, ...],
    baseline_ref: str | None,
    max_regression: str,
    best_of: str | None,
    metric: str | None,
    mode: Mode | None,
    wait: bool,
    timeout: float,
    url: str | None,
    token: str | None,
    as_json: bool,
) -> None:
    """Check RUN against requirements: exit 0 when every one holds, 1 when one fails, 2 on a usage or lookup error.

    A requirement is one comparison of the runs filter grammar (metrics.KEY is the latest
    value). A missing metric and a NaN value always fail. --best-of ranks the matching runs
    by --metric (or the first required metric: max for > and >=, min for < and <=).
    """
    if (run_ref is None) == (best_of is None):
        raise click.UsageError("give either RUN or --best-of FILTER (one of them)")
    if not requirements:
        raise click.UsageError("give at least one --require, e.g. --require 'metrics.val/acc >= 0.9'")
    parsed = [_requirement(text) for text in requirements]
    try:
        allowance = parse_allowance(max_regression)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-regression") from None
    ranked = _ranking(parsed, metric, mode) if best_of is not None else None
    source = _source(url, token, home, redis_url)
    if best_of is not None:
        assert ranked is not None
        if wait:
            _wait_for_filter(source, best_of, timeout, quiet=as_json)
        run = _best(source, best_of, *ranked)
    else:
        assert run_ref is not None
        run = _wait_for_run(source, run_ref, timeout, quiet=as_json) if wait else source.run(run_ref)
    baseline = source.run(baseline_ref) if baseline_ref else None
    verdict = evaluate(run, parsed, baseline=baseline, allowance=allowance)
    if as_json:
        click.echo(json.dumps(verdict_json(verdict), indent=2))
    else:
        _print(verdict)
    click.get_current_context().exit(0 if verdict.passed else 1)


def _source(url: str | None, token: str | None, home: Path | None, redis_url: str | None) -> RunSource:
    if url is None:
        return StoreRuns(existing_store(settings_from(home=home, redis_url=redis_url)))
    api = ApiRuns(url, token)
    click.get_current_context().call_on_close(api.close)
    return api


def _requirement(text: str) -> Comparison:
    try:
        return parse_comparison(text)
    except FilterError as exc:
        raise click.BadParameter(f"{text!r}: {exc}", param_hint="--require") from None


def _ranking(requirements: list[Comparison], metric: str | None, mode: Mode | None) -> tuple[str, Mode]:
    try:
        return ranking(requirements, metric, mode)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _wait_for_run(source: RunSource, ref: str, timeout: float, *, quiet: bool) -> RunRecord:
    """The run once it has ended (finished, failed, killed or lost); a GateError past ``timeout``."""
    started = time.monotonic()
    said = -PROGRESS_EVERY
    while True:
        run = source.run(ref)
        if run.status in DONE:
            return run
        waited = time.monotonic() - started
        if waited >= timeout:
            raise GateError(f"run {run.name} is still {run.status} after {timeout:g}s (--timeout)")
        if not quiet and waited - said >= PROGRESS_EVERY:
            step = "-" if run.last_step is None else run.last_step
            err_console.print(f"waiting for run {shown(run.name)} ({shown(run.id)}): {run.status}, step {step}")
            said = waited
        time.sleep(POLL_SECONDS)


def _wait_for_filter(source: RunSource, best_of: str, timeout: float, *, quiet: bool) -> None:
    """Until no run matching ``best_of`` is still running."""
    started = time.monotonic()
    said = -PROGRESS_EVERY
    while True:
        running = source.search(f"({best_of}) and status = running", limit=1000)
        if not running:
            return
        waited = time.monotonic() - started
        if waited >= timeout:
            raise GateError(f"{len(running)} matching runs are still running after {timeout:g}s (--timeout)")
        if not quiet and waited - said >= PROGRESS_EVERY:
            err_console.print(f"waiting for {len(running)} running run(s) matching the --best-of filter")
            said = waited
        time.sleep(POLL_SECONDS)


def _best(source: RunSource, best_of: str, key: str, direction: Mode) -> RunRecord:
    found = source.search(best_of, sort=f"metrics.{key} {'desc' if direction == 'max' else 'asc'}")
    if not found:
        raise GateError(f"no run matches the --best-of filter {best_of!r}")
    return source.run(found[0])


def _value(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return number(value)
    return shown(json.dumps(value) if not isinstance(value, str) else value)


def _print(verdict: Verdict) -> None:
    run = verdict.run
    console.print(f"run [bold]{shown(run.name)}[/] ({shown(run.id)})  project {shown(run.project)}  {run.status}")
    if verdict.baseline is not None:
        console.print(f"baseline {shown(verdict.baseline.name)} ({shown(verdict.baseline.id)})")
    table = Table()
    for column in ("requirement", "value", "verdict", "why"):
        table.add_column(column)
    for row in verdict.checks:
        mark = "[green]pass[/]" if row.passed else "[red]FAIL[/]"
        table.add_row(shown(row.requirement), _value(row.value), mark, shown(row.reason))
    console.print(table)
    failed = sum(not row.passed for row in verdict.checks)
    if failed:
        console.print(f"[red]gate failed[/]: {failed} of {len(verdict.checks)} checks did not hold")
    else:
        console.print(f"[green]gate passed[/]: {len(verdict.checks)} checks hold")
