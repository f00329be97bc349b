"""``runwatch rules``, ``alerts`` and ``silence``: checking rules, reading alerts, muting them."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from alerts import RuleSet

from ..audit import record_cli
from .common import age, any_store, clock, common_options, console, existing_store, find_run, home_option, settings_from
from .serve import load_ruleset_or_exit


@click.group()
def rules() -> None:
    """Alert rules files (see docs/alerts.md)."""


@rules.command("check")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@home_option
def rules_check(path: Path, home: Path | None) -> None:
    """Validate a rules file: every problem is reported at once, with its line, rule and field.

    With a store (--home, or RUNWATCH_HOME), metric names and patterns that match none of
    the metric keys of its newest runs are named too: a warning, not an error, since runs
    that log them may come later.
    """
    ruleset = load_ruleset_or_exit(path)
    console.print(f"[green]ok[/]: {len(ruleset.rules)} rules, {len(ruleset.channels)} channels in {escape(str(path))}")
    for rule in ruleset.rules:
        notify = ", ".join(ruleset.notify_for(rule))
        console.print(escape(f"  {rule.name:<24} {rule.kind.value:<16} notify: {notify}"))
    for digest in ruleset.digests:
        notify = ", ".join(ruleset.notify_for_digest(digest))
        console.print(
            escape(f"  {digest.name:<24} {'digest':<16} notify: {notify} ({digest.schedule}, {digest.timezone})")
        )
    _check_metric_names(ruleset, home)


KNOWN_KEYS_RUNS = 500  # how many of the newest runs' metric keys `rules check` compares patterns with


def _check_metric_names(ruleset: RuleSet, home: Path | None) -> None:
    """Warn about metric rules that would match nothing the store has seen."""
    metric_rules = [rule for rule in ruleset.rules if rule.metric is not None and rule.on is None]
    if not metric_rules:
        return
    try:
        store = existing_store(settings_from(home=home))
    except click.ClickException as exc:
        console.print(f"[yellow]note[/]: metric names not checked: {escape(exc.message)}", soft_wrap=True)
        return
    try:
        runs = store.runs.recent(limit=KNOWN_KEYS_RUNS)
        keys = {key for run in runs for key in store.series.keys(run.id)}
    finally:
        store.close()
    where = f"the {len(keys)} metric keys of the {len(runs)} newest runs"
    for rule in metric_rules:
        if not any(rule.watches(key) for key in keys):
            console.print(
                escape(f"warning: rule {rule.name!r}: metric {rule.metric!r} matches none of {where}"), soft_wrap=True
            )


@click.group(invoke_without_command=True)
@common_options
@click.option("--limit", type=int, default=30, show_default=True)
@click.option("--run", "run_ref", help="Only alerts of this run (id or unique name).")
@click.pass_context
def alerts(ctx: click.Context, home: Path | None, redis_url: str | None, limit: int, run_ref: str | None) -> None:
    """Alert history with each delivery's outcome (newest first); `alerts test` sends a test message."""
    if ctx.invoked_subcommand is not None:
        return
    store = existing_store(settings_from(home=home, redis_url=redis_url))
    run_id = find_run(store, run_ref).id if run_ref else None
    records = store.alerts.history(run_id=run_id, limit=limit)
    if not records:
        console.print("no alerts")
        return
    table = Table(title="alerts")
    for column in ("when", "rule", "state", "severity", "run", "title", "deliveries"):
        table.add_column(column)
    for record in records:
        deliveries = ", ".join(
            f"{d['channel']}:{d['status']}" + (f" ({d['last_error'][:60]})" if d["last_error"] else "")
            for d in record.deliveries
        )
        table.add_row(
            age(record.at), record.rule, record.state, record.severity, record.run_id, record.title, deliveries or "-"
        )
    console.print(table)


@alerts.command("test")
@click.argument("channel")
@click.option(
    "--alerts", "alerts_file", type=click.Path(path_type=Path), help="Rules file [$RUNWATCH_HOME/alerts.yaml]."
)
@home_option
def alerts_test(channel: str, alerts_file: Path | None, home: Path | None) -> None:
    """Send a test notification to CHANNEL of the rules file."""
    from alerts import AlertMessage, NotifyError, build_notifiers

    settings = settings_from(home=home, alerts=alerts_file)
    ruleset = load_ruleset_or_exit(settings.alerts_path)
    notifiers = build_notifiers(ruleset)
    if channel not in notifiers:
        raise click.ClickException(f"no channel {channel!r} in {settings.alerts_path} (has: {', '.join(notifiers)})")
    message = AlertMessage(
        id=f"test-{int(time.time())}",
        key="test",
        rule="test",
        run_id="test-run",
        state="firing",
        repeat=False,
        severity="info",
        title="runwatch test notification",
        text=f"If you can read this, {channel} works.",
        kind="test",
        at=time.time(),
        run_name="test-run",
        project="runwatch",
        link=settings.dashboard_url,
    )
    try:
        notifiers[channel].send(message)
    except NotifyError as exc:
        raise click.ClickException(f"{channel}: {exc}") from exc
    console.print(f"[green]sent[/] a test notification to {channel}")


@click.group()
def silence() -> None:
    """Silences: mute notifications of matching alerts for a while (they are still recorded).

    \b
        runwatch silence add --rule loss-nan --project cifar --for 2h --comment "known, fix coming"
        runwatch silence list
        runwatch silence end 3
    """


@silence.command("add")
@home_option
@click.option("--rule", help="Only alerts of this rule.")
@click.option("--run", "run_id", help="Only alerts of this run (id).")
@click.option("--project", help="Only alerts of runs in this project.")
@click.option("--for", "duration", required=True, help="How long: 90s, 15m, 2h, 1d (at most 90d).")
@click.option("--comment", default="", help="Why (shown with every muted delivery).")
def add_silence(
    home: Path | None, rule: str | None, run_id: str | None, project: str | None, duration: str, comment: str
) -> None:
    """Start a silence now; at least one of --rule, --run, --project."""
    from alerts.errors import RuleError
    from alerts.rules import parse_duration

    if not (rule or run_id or project):
        raise click.UsageError("give at least one of --rule, --run, --project (a silence of everything is not allowed)")
    try:
        seconds = parse_duration(duration)
    except (RuleError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--for") from exc
    if not 0 < seconds <= 90 * 86400:
        raise click.BadParameter("must be more than 0 and at most 90d", param_hint="--for")
    now = time.time()
    store = any_store(settings_from(home=home))
    try:
        silence_id = store.silences.create(
            rule=rule,
            run_id=run_id,
            project=project,
            starts_at=now,
            ends_at=now + seconds,
            comment=comment,
            created_by="cli",
            now=now,
        )
        matchers = {k: v for k, v in (("rule", rule), ("run_id", run_id), ("project", project)) if v is not None}
        detail = {**matchers, "ends_at": now + seconds, "comment": comment}
        record_cli(store, "silence.create", f"silence {silence_id}", detail)
    finally:
        store.close()
    click.echo(f"silence {silence_id} until {clock(now + seconds)}")


@silence.command("list")
@home_option
@click.option("--all", "include_ended", is_flag=True, help="Include silences that are over.")
def list_silences(home: Path | None, include_ended: bool) -> None:
    """Active and scheduled silences: id, matchers, until, comment."""
    store = any_store(settings_from(home=home))
    try:
        rows = store.silences.list(time.time(), include_ended=include_ended)
    finally:
        store.close()
    if not rows:
        click.echo("no silences")
    for row in rows:
        matchers = " ".join(f"{k}={row[k]}" for k in ("rule", "run_id", "project") if row[k])
        state = (
            "active"
            if row["active"]
            else ("ended" if row["expired_at"] or row["ends_at"] <= time.time() else "scheduled")
        )
        click.echo(f"{row['id']:>4}  {state:<9}  until {clock(row['ends_at'])}  {matchers}  {row['comment']}")


@silence.command("end")
@home_option
@click.argument("silence_id", type=int)
def end_silence(home: Path | None, silence_id: int) -> None:
    """End a silence now."""
    store = any_store(settings_from(home=home))
    try:
        if not store.silences.expire(silence_id, time.time()):
            raise click.ClickException(f"no silence {silence_id} that is still on")
        record_cli(store, "silence.end", f"silence {silence_id}")
    finally:
        store.close()
    click.echo(f"silence {silence_id} ended")
