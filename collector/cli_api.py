"""``runwatch token``: create, list and revoke API tokens (registered by ``collector.cli``)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from .settings import load_settings
from .store import queries


def _open(home: Path | None):  # type: ignore[no-untyped-def]
    from .service import open_store

    try:
        settings = load_settings(home=home)
    except Exception as exc:  # pydantic ValidationError: show it plainly
        raise click.ClickException(f"invalid configuration: {exc}") from exc
    return open_store(settings)


_home = click.option("--home", type=click.Path(path_type=Path), help="Data directory [env RUNWATCH_HOME; ./.runwatch].")


@click.group()
def token() -> None:
    """API tokens: viewer (read), writer (post notes and tags), admin (tokens)."""


@token.command("create")
@_home
@click.option("--role", type=click.Choice(queries.ROLES), default="viewer", show_default=True)
@click.option("--name", default="", help="What the token is for (shown in `runwatch token list`).")
def create(home: Path | None, role: str, name: str) -> None:
    """Create a token and print it once: only its hash is stored."""
    store = _open(home)
    try:
        token_id, secret = queries.create_token(store, role, name, time.time())
    finally:
        store.close()
    click.echo(secret)
    click.echo(f"token {token_id} ({role}) created; it is shown only this once", err=True)


@token.command("list")
@_home
def list_tokens(home: Path | None) -> None:
    """Every token: id, role, name, prefix, created, last used, revoked."""
    store = _open(home)
    try:
        rows = queries.list_tokens(store)
    finally:
        store.close()
    for row in rows:
        state = "revoked" if row["revoked_at"] else "active"
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(row["last_used_at"])) if row["last_used_at"] else "never"
        click.echo(f"{row['id']:>4}  {row['role']:<6}  {state:<7}  {row['prefix']}…  used {used}  {row['name']}")


@token.command("revoke")
@_home
@click.argument("token_id", type=int)
def revoke(home: Path | None, token_id: int) -> None:
    """Revoke a token by id: requests with it fail from now on."""
    store = _open(home)
    try:
        if not queries.revoke_token(store, token_id, time.time()):
            raise click.ClickException(f"no active token with id {token_id}")
    finally:
        store.close()
    click.echo(f"token {token_id} revoked")
