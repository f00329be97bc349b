"""``runwatch migrate``: bring the database's schema up to date, as an explicit deploy step."""

from __future__ import annotations

from pathlib import Path

import click

from .common import any_store, home_option, settings_from

database_url_option = click.option(
    "--database-url",
    help="The database [env RUNWATCH_DATABASE_URL; SQLite in --home when unset]: postgresql://user@host:5432/db.",
)


@click.command()
@home_option
@database_url_option
@click.option("--check", is_flag=True, help="Apply nothing: list what is pending, and exit 1 if anything is.")
def migrate(home: Path | None, database_url: str | None, check: bool) -> None:
    """Apply the schema migrations the database has not had yet, in order, and print each.

    \b
    `runwatch serve` and `collect` migrate at start unless given --no-migrate; with
    several replicas, run this once per release before starting them:
        RUNWATCH_DATABASE_URL=postgresql://runwatch@db/runwatch runwatch migrate
        runwatch collect --no-migrate
    Safe when several processes migrate at once: each migration is applied once.
    """
    store = any_store(settings_from(home=home, database_url=database_url), schema="as-is")
    pending = store.pending_migrations()
    if check:
        for name in pending:
            click.echo(f"pending {name}")
        if pending:
            raise click.ClickException(f"{store.where}: {len(pending)} migration(s) pending")
        click.echo(f"{store.where}: up to date")
        return
    applied = store.migrate()
    for name in applied:
        click.echo(f"applied {name}")
    click.echo(f"{store.where}: up to date" + ("" if applied else ", nothing to apply"))
