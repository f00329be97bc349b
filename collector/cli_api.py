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


@click.group()
def silence() -> None:
    """Silences: mute notifications of matching alerts for a while (they are still recorded).

    \b
        runwatch silence add --rule loss-nan --project cifar --for 2h --comment "known, fix coming"
        runwatch silence list
        runwatch silence end 3
    """


@silence.command("add")
@_home
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
    store = _open(home)
    try:
        silence_id = queries.create_silence(
            store,
            rule=rule,
            run_id=run_id,
            project=project,
            starts_at=now,
            ends_at=now + seconds,
            comment=comment,
            created_by="cli",
            now=now,
        )
    finally:
        store.close()
    until = time.strftime("%Y-%m-%d %H:%M", time.localtime(now + seconds))
    click.echo(f"silence {silence_id} until {until}")


@silence.command("list")
@_home
@click.option("--all", "include_ended", is_flag=True, help="Include silences that are over.")
def list_silences(home: Path | None, include_ended: bool) -> None:
    """Active and scheduled silences: id, matchers, until, comment."""
    store = _open(home)
    try:
        rows = queries.list_silences(store, time.time(), include_ended=include_ended)
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
        until = time.strftime("%Y-%m-%d %H:%M", time.localtime(row["ends_at"]))
        click.echo(f"{row['id']:>4}  {state:<9}  until {until}  {matchers}  {row['comment']}")


@silence.command("end")
@_home
@click.argument("silence_id", type=int)
def end_silence(home: Path | None, silence_id: int) -> None:
    """End a silence now."""
    store = _open(home)
    try:
        if not queries.expire_silence(store, silence_id, time.time()):
            raise click.ClickException(f"no silence {silence_id} that is still on")
    finally:
        store.close()
    click.echo(f"silence {silence_id} ended")
