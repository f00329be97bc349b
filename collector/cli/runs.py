"""``runwatch runs``, ``show`` and ``tail``: what the runs are doing, in the terminal."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click
import redis
from rich.table import Table

from emitter._redis_url import resolve_redis_url
from emitter.events import VALUE_KINDS, ContractError, Keys, decode_entry, shard_for

from ..errors import ConfigError
from ..redis_connect import sync_client
from .common import (
    age,
    common_options,
    console,
    existing_store,
    find_run,
    number,
    settings_from,
    shown,
    store_exists,
)

_STATUS_STYLE = {"running": "green", "finished": "blue", "failed": "red", "killed": "yellow", "lost": "magenta"}


@click.command()
@common_options
@click.option("--project", help="Only runs of this project.")
@click.option("--limit", type=int, default=30, show_default=True)
def runs(home: Path | None, redis_url: str | None, project: str | None, limit: int) -> None:
    """A table of recent runs: status, step, age and latest metrics."""
    store = existing_store(settings_from(home=home, redis_url=redis_url))
    table = Table(title="runs")
    for column in ("project", "name", "id", "status", "step", "age", "latest metrics"):
        table.add_column(column)
    for run in store.runs.recent(project=project, limit=limit):
        latest = ", ".join(f"{shown(k)}={number(m.last)}" for k, m in list(run.metrics.items())[:4])
        style = _STATUS_STYLE.get(run.status, "")
        table.add_row(
            shown(run.project),
            shown(run.name),
            shown(run.id),
            f"[{style}]{shown(run.status)}[/]",
            "-" if run.last_step is None else str(run.last_step),
            age(run.last_event_at or run.updated_at),
            latest,
        )
    console.print(table)


@click.command()
@common_options
@click.argument("run_ref", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def show(home: Path | None, redis_url: str | None, run_ref: str, as_json: bool) -> None:
    """Metadata, params, status and metric summary of RUN (an id, or a unique name)."""
    store = existing_store(settings_from(home=home, redis_url=redis_url))
    run = find_run(store, run_ref)
    if as_json:
        click.echo(json.dumps(asdict(run), default=str, indent=2))
        return
    console.print(
        f"[bold]{shown(run.name)}[/]  ({shown(run.id)})  project [cyan]{shown(run.project)}[/]  status {run.status}"
    )
    tags = shown(", ".join(run.tags) or "-")
    console.print(f"tags: {tags}   group: {shown(run.group or '-')}   last step: {run.last_step}")
    if run.notes:
        console.print(f"notes: {shown(run.notes)}")
    if run.exit_info:
        console.print(f"exit: {shown(json.dumps(run.exit_info)[:2000])}")
    git = run.env.get("git") or {}
    console.print(
        f"host {shown(run.env.get('hostname', '-'))}  python {shown(run.env.get('python', '-'))}  "
        f"git {shown(str(git.get('commit', '-'))[:10])}{_dirty(git)}"
    )
    params = Table(title="params")
    params.add_column("name")
    params.add_column("value")
    for key, value in run.params.items():
        params.add_row(shown(key), shown(json.dumps(value)))
    console.print(params)
    metrics = Table(title="metrics")
    for column in ("key", "last", "step", "min", "max", "points"):
        metrics.add_column(column)
    for key, m in run.metrics.items():
        metrics.add_row(
            shown(key),
            number(m.last),
            str(m.last_step),
            "-" if m.min is None else number(m.min),
            "-" if m.max is None else number(m.max),
            str(m.count),
        )
    console.print(metrics)


@click.command()
@common_options
@click.argument("run_ref", metavar="RUN")
@click.option("--prefix", help="Redis key prefix [env RUNWATCH_PREFIX; runwatch].")
def tail(home: Path | None, redis_url: str | None, run_ref: str, prefix: str | None) -> None:
    """Follow RUN's metrics live, read straight from the event stream (Ctrl-C to stop)."""
    settings = settings_from(home=home, redis_url=redis_url, prefix=prefix)
    run_id = run_ref
    if store_exists(settings):
        run_id = existing_store(settings).runs.resolve(run_ref) or run_ref

    try:
        client = sync_client(resolve_redis_url(settings.redis_url, settings.home), settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    published = client.get(settings.keys.shards)
    shards = int(published) if published else settings.shards
    stream = Keys(settings.prefix).stream(shard_for(run_id, shards))
    last = _stream_end(client, stream)  # a concrete id, not "$": nothing logged after the line below is missed
    console.print(f"following run {shown(run_id)} on {shown(stream)} (Ctrl-C to stop)")
    try:
        while True:
            reply: list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]] = (
                client.xread({stream: last}, block=1000, count=500) or []  # type: ignore[assignment]
            )
            for _, items in reply:
                for entry_id, fields in items:
                    last = entry_id
                    if fields.get(b"run", b"").decode() != run_id:
                        continue
                    try:
                        batch = decode_entry(fields)
                    except ContractError as exc:
                        console.print(f"[red]undecodable entry {entry_id!r}: {shown(exc.reason)}[/]")
                        continue
                    for event in batch.events:
                        if event.kind in VALUE_KINDS:
                            values = "  ".join(f"{shown(k)}={number(v)}" for k, v in event.payload["values"].items())
                            console.print(f"step {event.payload['step']:>8}  {values}")
                        elif event.kind != "heartbeat":
                            payload = json.dumps(event.payload, default=str)[:200]
                            console.print(f"[bold]{event.kind}[/] {shown(payload)}")
    except KeyboardInterrupt:
        pass


def _dirty(git: dict[str, object]) -> str:
    """`` (dirty, diff 9f86d081…)``: which uncommitted changes, by ``git diff HEAD``'s sha256."""
    if not git.get("dirty"):
        return ""
    digest = git.get("diff_hash")
    return f" (dirty, diff {shown(str(digest)[:12])}…)" if digest else " (dirty)"


def _stream_end(client: redis.Redis, stream: str) -> str | bytes:
    try:
        return client.xinfo_stream(stream)["last-generated-id"]  # type: ignore[no-any-return]
    except redis.ResponseError:  # no such stream yet: everything it will hold is new
        return "0-0"
