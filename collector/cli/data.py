"""``runwatch sync``, ``export`` and ``dead-letters``: moving data in and out, and what could not be stored."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import redis
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from emitter import SyncReport, sync_artifacts, sync_spool
from emitter._redis_url import resolve_redis_url
from emitter.capture import redact_text

from ..deadletter import describe
from ..export import FORMATS, export_chunks
from ..settings import Settings
from ..store.base import Point
from .common import age, common_options, console, err_console, existing_store, find_run, settings_from, shown


@click.command()
@common_options
@click.option(
    "--timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Give up after this many seconds in which the collector confirmed nothing more.",
)
@click.option("--url", help="The runwatch API staged artifacts go to [env RUNWATCH_URL; http://127.0.0.1:8765].")
def sync(home: Path | None, redis_url: str | None, timeout: float, url: str | None) -> None:
    """Deliver the spool and the staged artifacts that jobs left behind when Redis or the API was unreachable.

    Waits for the collector to confirm each entry (a progress bar: confirmed of total) for
    as long as confirmations keep coming; an entry is deleted only once confirmed.
    """
    settings = settings_from(home=home, redis_url=redis_url)
    staged = sync_artifacts(
        settings.home,
        url=url,
        redis_url=settings.redis_url,
        prefix=settings.prefix,
        timeout=timeout,
        progress=lambda message: console.print(shown(message)),
    )
    if staged.uploaded or staged.confirmed or staged.remaining or staged.failed:
        refused = f", refused {len(staged.failed)}" if staged.failed else ""
        console.print(
            f"artifacts: uploaded {staged.uploaded}, confirmed {staged.confirmed}, still staged {staged.remaining}"
            + refused
        )
    for refusal in staged.failed:
        err_console.print(f"refused by the API (kept under spool/artifacts/failed): {shown(refusal)}")
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )
    tasks: list[TaskID] = []

    def show(report: SyncReport) -> None:  # the bar starts once Redis answered and the spool was read
        if not tasks:
            bar.start()
            tasks.append(bar.add_task("confirmed by the collector", total=report.total))
        bar.update(tasks[0], total=report.total, completed=report.confirmed)

    try:
        report = sync_spool(
            settings.home,
            redis_url=settings.redis_url,
            prefix=settings.prefix,
            timeout=timeout,
            progress=lambda message: bar.console.print(shown(message)),
            on_change=show,
        )
    except (redis.RedisError, redis.exceptions.RedisClusterException, ValueError) as exc:
        raise click.ClickException(f"cannot reach Redis: {exc}") from exc
    finally:
        bar.stop()
    console.print(
        f"sent {report.sent}, confirmed {report.confirmed}, still waiting {report.remaining}"
        + (f", skipped {len(report.skipped_writers)} live writers" if report.skipped_writers else "")
    )
    if report.remaining:
        raise click.ClickException(_still_waiting(report, settings, timeout))
    if staged.remaining:
        raise click.ClickException(
            f"{staged.remaining} artifacts are still staged ({staged.error or 'not confirmed yet'}):"
            " is the API (--url, RUNWATCH_URL) up? Re-run `runwatch sync`."
        )


def _still_waiting(report: SyncReport, settings: Settings, timeout: float) -> str:
    """What was confirmed, what waits and where, and what to check."""
    runs = report.waiting_runs
    named = ", ".join(runs[:5]) + (f" and {len(runs) - 5} more" if len(runs) > 5 else "")
    return (
        f"the collector confirmed {report.confirmed} of {report.total} entries; {report.remaining} are still "
        f"waiting (run{'s' if len(runs) != 1 else ''} {named}) and stay in {settings.home / 'spool'}: nothing "
        f"more was confirmed in {timeout:g} s: is `runwatch serve` running? A collector (`runwatch serve` or "
        f"`runwatch collect`) must read {redact_text(resolve_redis_url(settings.redis_url, settings.home))} with "
        f"RUNWATCH_PREFIX={settings.prefix}; `runwatch dead-letters` lists entries it could not store. Then "
        "re-run `runwatch sync`: it sends again only what is not confirmed."
    )


@click.command()
@common_options
@click.argument("run_ref", metavar="RUN")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("-o", "--output", type=click.File("w"), default="-", help="File to write [stdout].")
def export(home: Path | None, redis_url: str | None, run_ref: str, fmt: str, output: Any) -> None:
    """Every point of RUN, exact: step, ts, key, value (NaN, inf, -inf and -0.0 included).

    CSV writes values with Python's repr (float(text) gives back the same float), byte
    for byte what GET /api/v1/runs/RUN/export.csv serves; JSON Lines writes non-finite
    values as the strings "NaN", "Infinity", "-Infinity".
    """
    store = existing_store(settings_from(home=home, redis_url=redis_url))
    run = find_run(store, run_ref)
    points = CountingPoints(store.series.points(run.id))
    for chunk in export_chunks(points, fmt):
        output.write(chunk)
    if output is not sys.stdout:
        err_console.print(f"exported {points.count} points of {shown(run.name)}")


class CountingPoints(Iterator[Point]):
    """An iterator of points that counts what passed through it."""

    def __init__(self, points: Iterator[Point]) -> None:
        self._points = points
        self.count = 0

    def __next__(self) -> Point:
        point = next(self._points)
        self.count += 1
        return point


@click.command("dead-letters")
@common_options
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
def dead_letters(home: Path | None, redis_url: str | None, limit: int, as_json: bool) -> None:
    """Entries the collector could not store, with the reason (newest first)."""
    store = existing_store(settings_from(home=home, redis_url=redis_url))
    letters = store.dead_letters.list(limit)
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
            age(letter.received_at),
            shown(letter.stream),
            shown(letter.entry_id),
            shown(letter.run_id or "-"),
            str(letter.size),
            shown(letter.reason),
        )
    console.print(table)
