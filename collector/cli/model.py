"""``runwatch model``: stages of model artifacts (aliases such as ``staging`` and ``production``).

\b
    runwatch model promote resnet:v3 --alias production
    runwatch model history resnet --alias production

A promotion is recorded in the alias's history and in the audit log (the local OS user, from
``cli``); the logic is ``collector/promotion.py``, shared with the REST API.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from ..audit import CLI, cli_user
from ..promotion import PromotionError, promote, resolve_project
from .common import clock, console, existing_store, home_option, settings_from, shown


@click.group()
def model() -> None:
    """Model stages: point an alias (staging, production, any name) at a version of a model artifact."""


def _split(ref: str) -> tuple[str, str]:
    name, colon, version = ref.rpartition(":")
    if not colon or not name or not version:
        raise click.BadParameter(f"expected NAME:VERSION such as resnet:v3 (or NAME:latest, NAME:staging), got {ref!r}")
    return name, version


@model.command("promote")
@home_option
@click.argument("ref", metavar="NAME:VERSION")
@click.option("--alias", required=True, help="The stage: staging, production, or any name.")
@click.option("--project", help="The artifact's project (needed when the name is in several).")
def promote_command(home: Path | None, ref: str, alias: str, project: str | None) -> None:
    """Point ALIAS at VERSION (3, v3, latest, or an alias) of model NAME; the move is recorded."""
    name, version = _split(ref)
    store = existing_store(settings_from(home=home))
    try:
        done = promote(store, name, version, alias, project=project, who=cli_user(), source=CLI)
    except PromotionError as exc:
        raise click.ClickException(exc.message) from None
    move = done.move
    if not done.changed:
        click.echo(f"{move.project}/{move.name}:{move.alias} is already v{move.to_version}")
        return
    was = f"v{move.from_version}" if move.from_version is not None else "unset"
    click.echo(f"{move.project}/{move.name}:{move.alias} → v{move.to_version} (was {was})")


@model.command("history")
@home_option
@click.argument("name")
@click.option("--alias", help="Only this alias.")
@click.option("--project", help="The artifact's project (needed when the name is in several).")
@click.option("--limit", type=int, default=50, show_default=True)
def history(home: Path | None, name: str, alias: str | None, project: str | None, limit: int) -> None:
    """Every time an alias of NAME was set or moved, newest first."""
    store = existing_store(settings_from(home=home))
    try:
        project = resolve_project(store, name, project)
    except PromotionError as exc:
        raise click.ClickException(exc.message) from None
    moves = store.artifacts.alias_history(project, name, alias, limit)
    if not moves:
        console.print("no alias moves")
        return
    table = Table(title=f"aliases of {shown(project)}/{shown(name)}")
    for column in ("when", "alias", "from", "to", "by"):
        table.add_column(column)
    for move in moves:
        was = "-" if move.from_version is None else f"v{move.from_version}"
        by = shown(move.by) if move.by is not None else f"run {shown(move.run_id)}"
        table.add_row(clock(move.at), shown(move.alias), was, f"v{move.to_version}", by)
    console.print(table)
