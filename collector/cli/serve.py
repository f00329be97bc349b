"""``runwatch serve``, ``collect``, ``api`` and ``demo``: the commands that run the service."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from alerts import RuleError, RuleSet

from ..errors import CollectorError, ConfigError
from ..redact import redact_url
from ..settings import Settings
from ..store import Store, open_store
from .common import common_options, console, settings_from

alerts_option = click.option(
    "--alerts", type=click.Path(path_type=Path), help="Alert rules file [$RUNWATCH_HOME/alerts.yaml]."
)
insecure_option = click.option(
    "--insecure",
    is_flag=True,
    default=None,
    help="Allow a non-loopback bind without auth, and a Redis off this machine without a password.",
)
no_migrate_option = click.option(
    "--no-migrate",
    is_flag=True,
    help="Apply no schema migration at start; refuse to start if the database needs one (run `runwatch migrate`).",
)


def load_ruleset_or_exit(path: Path) -> RuleSet:
    """The rules file (or the built-in defaults when it does not exist); a bad file is a clear error."""
    from ..alerting import load_ruleset

    try:
        return load_ruleset(path)
    except RuleError as exc:
        raise click.ClickException(f"invalid alert rules:\n{exc}") from exc
    except OSError as exc:
        raise click.ClickException(f"cannot read alert rules {path}: {exc}") from exc


@click.command()
@common_options
@click.option("--host", help="Address to bind the dashboard/API to [127.0.0.1].")
@click.option("--port", type=int, help="Port of the dashboard/API [8765].")
@alerts_option
@click.option("--auth/--no-auth", default=None, help="Require API tokens (see `runwatch token create`).")
@insecure_option
@no_migrate_option
def serve(
    home: Path | None,
    redis_url: str | None,
    host: str | None,
    port: int | None,
    alerts: Path | None,
    auth: bool | None,
    insecure: bool | None,
    no_migrate: bool,
) -> None:
    """Run collector, alerting, API, dashboard and /metrics in one process."""
    settings = settings_from(
        home=home, redis_url=redis_url, host=host, port=port, alerts=alerts, auth=auth, insecure=insecure
    )
    run_service(settings, with_api=True, migrate=not no_migrate)


@click.command()
@common_options
@click.option("--host", help="Address /metrics and the probes bind to [127.0.0.1].")
@click.option(
    "--metrics-port", type=int, help="Serve /metrics, /healthz and /readyz on this port [off; $RUNWATCH_METRICS_PORT]."
)
@alerts_option
@insecure_option
@no_migrate_option
def collect(
    home: Path | None,
    redis_url: str | None,
    host: str | None,
    metrics_port: int | None,
    alerts: Path | None,
    insecure: bool | None,
    no_migrate: bool,
) -> None:
    """Run the collector without the API: consumer, alerting, delivery, stall detector.

    \b
    Run it next to `runwatch serve` or instead of it; several collectors divide the
    shard streams among themselves by lease (each needs its own RUNWATCH_CONSUMER_NAME;
    the default, collector-<hostname>, is one per machine or pod). With --metrics-port,
    Prometheus can scrape it and an orchestrator probe it:
        runwatch collect --metrics-port 9108
    """
    settings = settings_from(
        home=home, redis_url=redis_url, host=host, metrics_port=metrics_port, alerts=alerts, insecure=insecure
    )
    run_service(settings, with_api=False, migrate=not no_migrate)


@click.command()
@common_options
@click.option("--host", help="Address to bind the dashboard/API to [127.0.0.1].")
@click.option("--port", type=int, help="Port of the dashboard/API [8765].")
@click.option("--auth/--no-auth", default=None, help="Require API tokens (see `runwatch token create`).")
@insecure_option
def api(
    home: Path | None,
    redis_url: str | None,
    host: str | None,
    port: int | None,
    auth: bool | None,
    insecure: bool | None,
) -> None:
    """Serve REST, the live websocket, the dashboard and /metrics without consuming.

    \b
    An API replica: it reads the store the collectors write and pushes live points it
    reads from Redis itself, so N of them behind a load balancer serve the same data and
    the same live pushes. It needs the team's Redis and a migrated database:
        RUNWATCH_REDIS_URL=redis://... RUNWATCH_DATABASE_URL=postgresql://... runwatch api
    """
    from ..api.auth import check_bind
    from ..redis_connect import check_redis
    from ..service import Service

    settings = settings_from(home=home, redis_url=redis_url, host=host, port=port, auth=auth, insecure=insecure)
    if not settings.redis_url:
        raise click.ClickException(
            "runwatch api reads the collectors' Redis: set RUNWATCH_REDIS_URL or --redis-url"
            " (it starts no embedded Redis; `runwatch serve` does)"
        )
    try:
        check_redis(settings)  # before anything connects to it
        check_bind(settings)
        store = open_store(settings, schema="require")
    except CollectorError as exc:
        raise click.ClickException(str(exc)) from exc
    service = Service(settings, with_api=True, with_consumer=False, store=store)
    service.redis_url = settings.redis_url
    console.print(f"[bold]runwatch api[/] redis {redact_url(settings.redis_url)}, store {redact_url(store.where)}")
    console.print(f"dashboard and API on [link]http://{settings.host}:{settings.port}[/link]  (Ctrl-C to stop)")
    asyncio.run(service.run())


def run_service(settings: Settings, *, with_api: bool, migrate: bool = True) -> None:
    """Check the bind, open the store (migrating it), resolve Redis, say where everything is, then run.

    Runs until Ctrl-C or SIGTERM. ``migrate=False`` (``--no-migrate``): a database that
    needs a migration is refused before anything starts.
    """
    from ..api.auth import check_bind
    from ..redis_connect import check_redis
    from ..service import Service

    try:
        check_redis(settings)  # before anything connects to it
        if with_api or settings.metrics_port is not None:
            check_bind(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    ruleset = load_ruleset_or_exit(settings.alerts_path)
    store = open_service_store(settings, migrate=migrate)
    service = Service(settings, with_api=with_api, ruleset=ruleset, store=store)
    try:
        url = service.resolve_redis()
    except CollectorError as exc:
        store.close()
        raise click.ClickException(str(exc)) from exc
    where = "embedded" if service.embedded and not service.embedded.external else "external"
    console.print(f"[bold]runwatch[/] redis {redact_url(url)} ({where}), store {redact_url(store.where)}")
    if with_api:
        console.print(f"dashboard and API on [link]http://{settings.host}:{settings.port}[/link]  (Ctrl-C to stop)")
    elif settings.metrics_port is not None:
        console.print(f"/metrics and probes on http://{settings.host}:{settings.metrics_port}  (Ctrl-C to stop)")
    asyncio.run(service.run())


def open_service_store(settings: Settings, *, migrate: bool) -> Store:
    """The collector's store, its schema brought up to date (saying what was applied) or required to be."""
    try:
        store = open_store(settings, for_collector=True, schema="as-is" if migrate else "require")
    except CollectorError as exc:
        raise click.ClickException(str(exc)) from exc
    if migrate:
        for name in store.migrate():
            click.echo(f"applied migration {name} to {store.where}")
    return store


@click.command()
@common_options
@click.option("--port", type=int, help="Dashboard port [8765].")
@click.option(
    "--duration", type=float, default=0.0, help="Stop after this many seconds (0: run until Ctrl-C or SIGTERM)."
)
def demo(home: Path | None, redis_url: str | None, port: int | None, duration: float) -> None:
    """Serve, plus simulated runs: one that finishes, one whose loss turns NaN, one killed, one that runs until stopped.

    \b
    Ctrl-C, SIGTERM or --duration stop the jobs, the service and the embedded Redis it started.
    """
    from ..demo import run_demo

    settings = settings_from(home=home, redis_url=redis_url, port=port)
    run_demo(settings, duration=duration, console=console)
