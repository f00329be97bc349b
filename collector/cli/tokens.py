"""``runwatch token``: create, list and revoke API tokens."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..audit import record_cli
from ..store.base import ROLES
from .common import any_store, clean, clock, home_option, settings_from


@click.group()
def token() -> None:
    """API tokens: viewer (read), writer (post notes and tags), admin (tokens)."""


@token.command("create")
@home_option
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--name", default="", help="What the token is for (shown in `runwatch token list`).")
def create(home: Path | None, role: str, name: str) -> None:
    """Create a token and print it once: only its hash is stored."""
    store = any_store(settings_from(home=home))
    try:
        token_id, secret = store.tokens.create(role, name, time.time())
        record_cli(store, "token.create", f"token {token_id}", {"role": role, "name": name})
    finally:
        store.close()
    click.echo(secret)
    click.echo(f"token {token_id} ({role}) created; it is shown only this once", err=True)


@token.command("list")
@home_option
def list_tokens(home: Path | None) -> None:
    """Every token: id, role, name, prefix, created, last used, revoked."""
    store = any_store(settings_from(home=home))
    try:
        rows = store.tokens.list()
    finally:
        store.close()
    for row in rows:
        state = "revoked" if row["revoked_at"] else "active"
        used = clock(row["last_used_at"]) if row["last_used_at"] else "never"
        click.echo(f"{row['id']:>4}  {row['role']:<6}  {state:<7}  {row['prefix']}…  used {used}  {clean(row['name'])}")


@token.command("revoke")
@home_option
@click.argument("token_id", type=int)
def revoke(home: Path | None, token_id: int) -> None:
    """Revoke a token by id: requests with it fail from now on."""
    store = any_store(settings_from(home=home))
    try:
        if not store.tokens.revoke(token_id, time.time()):
            raise click.ClickException(f"no active token with id {token_id}")
        record_cli(store, "token.revoke", f"token {token_id}")
    finally:
        store.close()
    click.echo(f"token {token_id} revoked")
