"""The ``runwatch`` command line."""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

import click
import redis
from rich.console import Console
from rich.table import Table

from emitter import sync_spool
from emitter.events import ContractError, Keys, decode_entry

from .errors import CollectorError, RunNotFound
from .settings import Settings, load_settings
from .store.base import RunRecord, Store

console = Console()
err_console = Console(stderr=True)

_COMMON = [
    click.option("--home", type=click.Path(path_type=Path), help="Data directory [env RUNWATCH_HOME; ./.runwatch]."),
    click.option("--redis-url", help="Redis URL [env RUNWATCH_REDIS_URL; embedded Redis when unset]."),
]


def _common(fn: Any) -> Any:
    for option in reversed(_COMMON):
        fn = option(fn)
    return fn


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except Exception as exc:  # pydantic ValidationError: show it plainly
        raise click.ClickException(f"invalid configuration: {exc}") from exc


def _store(settings: Settings) -> Store:
    from .service import open_store

    if not settings.sqlite_path.exists():
        raise click.ClickException(
            f"no runwatch database at {settings.sqlite_path}: start `runwatch serve` first, or pass --home"
        )
    return open_store(settings)


def _find_run(store: Store, ref: str) -> RunRecord:
    run = store.get_run(ref)
    if run is None:
        matches = len(store.runs_named(ref)) if hasattr(store, "runs_named") else 0
        raise click.ClickException(str(RunNotFound(ref, matches)))
    return run


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """runwatch: know right now what your training jobs are doing.

    \b
    Start everything on this machine (embedded Redis, SQLite, dashboard):
        runwatch serve
    Then, in training code:
        import emitter
        run = emitter.init(project="resnet", config={"lr": 3e-4})
        run.log({"loss": 0.31}, step=1)
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


# ------------------------------------------------------------------ service


@main.command()
@_common
@click.option("--host", help="Address to bind the dashboard/API to [127.0.0.1].")
@click.option("--port", type=int, help="Port of the dashboard/API [8765].")
@click.option("--alerts", type=click.Path(path_type=Path), help="Alert rules file [$RUNWATCH_HOME/alerts.yaml].")
@click.option("--auth/--no-auth", default=None, help="Require API tokens (see `runwatch token create`).")
@click.option("--insecure", is_flag=True, default=None, help="Allow a non-loopback bind without auth.")
def serve(
    home: Path | None,
    redis_url: str | None,
    host: str | None,
    port: int | None,
    alerts: Path | None,
    auth: bool | None,
    insecure: bool | None,
) -> None:
    """Run collector, alerting, API, dashboard and /metrics in one process."""
    settings = _settings(
        home=home, redis_url=redis_url, host=host, port=port, alerts=alerts, auth=auth, insecure=insecure
    )
    _run_service(settings, with_api=True)


@main.command()
@_common
@click.option("--host", help="Address /metrics and the probes bind to [127.0.0.1].")
@click.option(
    "--metrics-port", type=int, help="Serve /metrics, /healthz and /readyz on this port [off; $RUNWATCH_METRICS_PORT]."
)
@click.option("--alerts", type=click.Path(path_type=Path), help="Alert rules file [$RUNWATCH_HOME/alerts.yaml].")
def collect(
    home: Path | None, redis_url: str | None, host: str | None, metrics_port: int | None, alerts: Path | None
) -> None:
    """Run the collector without the API: consumer, alerting, delivery, stall detector.

    \b
    Run it next to `runwatch serve` or instead of it; replicas share the consumer
    group. With --metrics-port, Prometheus can scrape it and an orchestrator probe it:
        runwatch collect --metrics-port 9108
    """
    settings = _settings(home=home, redis_url=redis_url, host=host, metrics_port=metrics_port, alerts=alerts)
    _run_service(settings, with_api=False)


def _run_service(settings: Settings, *, with_api: bool) -> None:
    from .api.auth import check_bind
    from .errors import ConfigError
    from .service import Service

    if with_api or settings.metrics_port is not None:
        try:
            check_bind(settings)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc
    service = Service(settings, with_api=with_api, ruleset=_ruleset(settings.alerts_path))
    try:
        url = service.resolve_redis()
    except CollectorError as exc:
        raise click.ClickException(str(exc)) from exc
    where = "embedded" if service.embedded and not service.embedded.external else "external"
    console.print(f"[bold]runwatch[/] redis {url} ({where}), store {settings.sqlite_path}")
    if with_api:
        console.print(f"dashboard and API on [link]http://{settings.host}:{settings.port}[/link]  (Ctrl-C to stop)")
    elif settings.metrics_port is not None:
        console.print(f"/metrics and probes on http://{settings.host}:{settings.metrics_port}  (Ctrl-C to stop)")
    asyncio.run(service.run())


@main.command()
@_common
@click.option("--port", type=int, help="Dashboard port [8765].")
@click.option("--duration", type=float, default=0.0, help="Stop after this many seconds (0: run until Ctrl-C).")
def demo(home: Path | None, redis_url: str | None, port: int | None, duration: float) -> None:
    """Serve, plus three simulated runs: a healthy one, one whose loss turns NaN, one killed."""
    from .demo import run_demo

    settings = _settings(home=home, redis_url=redis_url, port=port)
    run_demo(settings, duration=duration, console=console)


def _ruleset(path: Path) -> Any:
    from alerts import RuleError

    from .alerting import load_ruleset

    try:
        return load_ruleset(path)
    except RuleError as exc:
        raise click.ClickException(f"invalid alert rules:\n{exc}") from exc
    except OSError as exc:
        raise click.ClickException(f"cannot read alert rules {path}: {exc}") from exc


# ------------------------------------------------------------------ alerts


@main.group()
def rules() -> None:
    """Alert rules files (see docs/alerts.md)."""


@rules.command("check")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
def rules_check(path: Path) -> None:
    """Validate a rules file: every problem is reported with its line, rule and field."""
    ruleset = _ruleset(path)
    console.print(f"[green]ok[/]: {len(ruleset.rules)} rules, {len(ruleset.channels)} channels in {path}")
    for rule in ruleset.rules:
        console.print(f"  {rule.name:<24} {rule.kind.value:<16} notify: {', '.join(ruleset.notify_for(rule))}")


@main.group(invoke_without_command=True)
@_common
@click.option("--limit", type=int, default=30, show_default=True)
@click.option("--run", "run_ref", help="Only alerts of this run (id or unique name).")
@click.pass_context
def alerts(ctx: click.Context, home: Path | None, redis_url: str | None, limit: int, run_ref: str | None) -> None:
    """Alert history with each delivery's outcome (newest first); `alerts test` sends a test message."""
    if ctx.invoked_subcommand is not None:
        return
    store = _store(_settings(home=home, redis_url=redis_url))
    run_id = _find_run(store, run_ref).id if run_ref else None
    records = store.list_alerts(run_id=run_id, limit=limit)  # type: ignore[attr-defined]
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
            _age(record.at), record.rule, record.state, record.severity, record.run_id, record.title, deliveries or "-"
        )
    console.print(table)


@alerts.command("test")
@click.argument("channel")
@click.option(
    "--alerts", "alerts_file", type=click.Path(path_type=Path), help="Rules file [$RUNWATCH_HOME/alerts.yaml]."
)
@click.option("--home", type=click.Path(path_type=Path))
def alerts_test(channel: str, alerts_file: Path | None, home: Path | None) -> None:
    """Send a test notification to CHANNEL of the rules file."""
    from alerts import AlertMessage, NotifyError, build_notifiers

    settings = _settings(home=home, alerts=alerts_file)
    ruleset = _ruleset(settings.alerts_path)
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


# ------------------------------------------------------------------ reading


def _age(ts: float | None) -> str:
    if ts is None:
        return "-"
    seconds = max(0.0, time.time() - ts)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def _fmt(value: float) -> str:
    return repr(value) if not math.isfinite(value) else f"{value:.4g}"


_STATUS_STYLE = {"running": "green", "finished": "blue", "failed": "red", "killed": "yellow", "lost": "magenta"}


@main.command()
@_common
@click.option("--project", help="Only runs of this project.")
@click.option("--limit", type=int, default=30, show_default=True)
def runs(home: Path | None, redis_url: str | None, project: str | None, limit: int) -> None:
    """A table of recent runs: status, step, age and latest metrics."""
    store = _store(_settings(home=home, redis_url=redis_url))
    table = Table(title="runs")
    for column in ("project", "name", "id", "status", "step", "age", "latest metrics"):
        table.add_column(column)
    for run in store.list_runs(project=project, limit=limit):
        latest = ", ".join(f"{k}={_fmt(m.last)}" for k, m in list(run.metrics.items())[:4])
        style = _STATUS_STYLE.get(run.status, "")
        table.add_row(
            run.project,
            run.name,
            run.id,
            f"[{style}]{run.status}[/]",
            "-" if run.last_step is None else str(run.last_step),
            _age(run.last_event_at or run.updated_at),
            latest,
        )
    console.print(table)


@main.command()
@_common
@click.argument("run_ref", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def show(home: Path | None, redis_url: str | None, run_ref: str, as_json: bool) -> None:
    """Metadata, params, status and metric summary of RUN (an id, or a unique name)."""
    store = _store(_settings(home=home, redis_url=redis_url))
    run = _find_run(store, run_ref)
    if as_json:
        from dataclasses import asdict

        click.echo(json.dumps(asdict(run), default=str, indent=2))
        return
    console.print(f"[bold]{run.name}[/]  ({run.id})  project [cyan]{run.project}[/]  status {run.status}")
    console.print(f"tags: {', '.join(run.tags) or '-'}   group: {run.group or '-'}   last step: {run.last_step}")
    if run.notes:
        console.print(f"notes: {run.notes}")
    if run.exit_info:
        console.print(f"exit: {json.dumps(run.exit_info)[:2000]}")
    git = run.env.get("git") or {}
    console.print(
        f"host {run.env.get('hostname', '-')}  python {run.env.get('python', '-')}  "
        f"git {str(git.get('commit', '-'))[:10]}{' (dirty)' if git.get('dirty') else ''}"
    )
    params = Table(title="params")
    params.add_column("name")
    params.add_column("value")
    for key, value in run.params.items():
        params.add_row(key, json.dumps(value))
    console.print(params)
    metrics = Table(title="metrics")
    for column in ("key", "last", "step", "min", "max", "points"):
        metrics.add_column(column)
    for key, m in run.metrics.items():
        metrics.add_row(
            key,
            _fmt(m.last),
            str(m.last_step),
            "-" if m.min is None else _fmt(m.min),
            "-" if m.max is None else _fmt(m.max),
            str(m.count),
        )
    console.print(metrics)


@main.command()
@_common
@click.argument("run_ref", metavar="RUN")
@click.option("--prefix", help="Redis key prefix [env RUNWATCH_PREFIX; runwatch].")
def tail(home: Path | None, redis_url: str | None, run_ref: str, prefix: str | None) -> None:
    """Follow RUN's metrics live, read straight from the event stream (Ctrl-C to stop)."""
    settings = _settings(home=home, redis_url=redis_url, prefix=prefix)
    run_id = run_ref
    if settings.sqlite_path.exists():
        found = _store(settings).get_run(run_ref)
        run_id = found.id if found else run_ref
    from emitter.events import shard_for

    client = redis.Redis.from_url(settings.redis_url or "redis://127.0.0.1:6379/0")
    published = client.get(settings.keys.shards)
    shards = int(published) if published else settings.shards
    stream = Keys(settings.prefix).stream(shard_for(run_id, shards))
    last = _stream_end(client, stream)  # a concrete id, not "$": nothing logged after the line below is missed
    console.print(f"following run {run_id} on {stream} (Ctrl-C to stop)")
    try:
        while True:
            for _, items in client.xread({stream: last}, block=1000, count=500) or []:
                for entry_id, fields in items:
                    last = entry_id
                    if fields.get(b"run", b"").decode() != run_id:
                        continue
                    try:
                        batch = decode_entry(fields)
                    except ContractError as exc:
                        console.print(f"[red]undecodable entry {entry_id!r}: {exc.reason}[/]")
                        continue
                    for event in batch.events:
                        if event.kind in ("metrics", "system"):
                            values = "  ".join(f"{k}={_fmt(v)}" for k, v in event.payload["values"].items())
                            console.print(f"step {event.payload['step']:>8}  {values}")
                        elif event.kind != "heartbeat":
                            console.print(f"[bold]{event.kind}[/] {json.dumps(event.payload, default=str)[:200]}")
    except KeyboardInterrupt:
        pass


def _stream_end(client: redis.Redis, stream: str) -> str | bytes:
    try:
        return client.xinfo_stream(stream)["last-generated-id"]  # type: ignore[no-any-return]
    except redis.ResponseError:  # no such stream yet: everything it will hold is new
        return "0-0"


# ------------------------------------------------------------------ data


@main.command()
@_common
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for the collector.")
def sync(home: Path | None, redis_url: str | None, timeout: float) -> None:
    """Deliver the spool that jobs left behind when Redis was unreachable."""
    settings = _settings(home=home, redis_url=redis_url)
    try:
        report = sync_spool(
            settings.home,
            redis_url=settings.redis_url,
            prefix=settings.prefix,
            timeout=timeout,
            progress=lambda message: console.print(message),
        )
    except redis.RedisError as exc:
        raise click.ClickException(f"cannot reach Redis: {exc}") from exc
    console.print(
        f"sent {report.sent}, confirmed {report.confirmed}, still waiting {report.remaining}"
        + (f", skipped {len(report.skipped_writers)} live writers" if report.skipped_writers else "")
    )
    if report.remaining:
        raise click.ClickException(
            "the collector has not confirmed everything yet: is `runwatch serve` running? Re-run `runwatch sync`."
        )


def _json_value(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


@main.command()
@_common
@click.argument("run_ref", metavar="RUN")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option("-o", "--output", type=click.File("w"), default="-", help="File to write [stdout].")
def export(home: Path | None, redis_url: str | None, run_ref: str, fmt: str, output: Any) -> None:
    """Every point of RUN, exact: step, ts, key, value (NaN, inf, -inf and -0.0 included).

    CSV writes values with Python's repr (float(text) gives back the same float);
    JSON Lines writes non-finite values as the strings "NaN", "Infinity", "-Infinity".
    """
    store = _store(_settings(home=home, redis_url=redis_url))
    run = _find_run(store, run_ref)
    count = 0
    if fmt == "csv":
        writer = csv.writer(output)
        writer.writerow(["step", "ts", "key", "value"])
        for point in store.points(run.id):
            writer.writerow([point.step, repr(point.ts), point.key, repr(point.value)])
            count += 1
    else:
        for point in store.points(run.id):
            record = {"step": point.step, "ts": point.ts, "key": point.key, "value": _json_value(point.value)}
            output.write(json.dumps(record) + "\n")
            count += 1
    if output is not sys.stdout:
        err_console.print(f"exported {count} points of {run.name}")


@main.command("dead-letters")
@_common
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
def dead_letters(home: Path | None, redis_url: str | None, limit: int, as_json: bool) -> None:
    """Entries the collector could not store, with the reason (newest first)."""
    from .deadletter import describe

    store = _store(_settings(home=home, redis_url=redis_url))
    letters = store.dead_letters(limit)
    if as_json:
        for letter in letters:
            click.echo(json.dumps(describe(letter)))
        return
    if not letters:
        console.print("no dead letters")
        return
    table = Table(title="dead letters")
    for column in ("received", "stream", "entry", "run", "bytes", "reason"):
        table.add_column(column)
    for letter in letters:
        table.add_row(
            _age(letter.received_at),
            letter.stream,
            letter.entry_id,
            letter.run_id or "-",
            str(letter.size),
            letter.reason,
        )
    console.print(table)


from .cli_api import silence, token  # noqa: E402

main.add_command(token)
main.add_command(silence)


if __name__ == "__main__":  # pragma: no cover
    main()
