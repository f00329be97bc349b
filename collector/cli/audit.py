"""``runwatch audit``: the audit trail of changes made through the API and the CLI (newest first)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import click
from rich.table import Table

from .common import clock, console, existing_store, home_option, settings_from, shown


def parse_since(text: str, now: float) -> float:
    """``2h``/``7d`` (that long ago), or an ISO date or time (``2026-12-01``, ``2026-12-01T08:00``: local time)."""
    from alerts.errors import RuleError
    from alerts.rules import parse_duration

    try:
        return now - parse_duration(text)
    except (RuleError, ValueError):
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise click.BadParameter(
            f"expected a duration such as 2h or 7d, or a date such as 2026-12-01, got {text!r}"
        ) from None


@click.command()
@home_option
@click.option("--since", help="Only entries after this: 2h, 7d, or a date such as 2026-12-01.")
@click.option("--who", help="Only entries of this token name or OS user.")
@click.option("--action", help="Only this action (token.create) or family (token).")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one entry per line.")
def audit(home: Path | None, since: str | None, who: str | None, action: str | None, limit: int, as_json: bool) -> None:
    """Who changed what, when and from where: tokens, silences, alias moves, notes, tags."""
    since_ts = parse_since(since, time.time()) if since else None
    store = existing_store(settings_from(home=home))
    entries = store.audit.list(since=since_ts, who=who, action=action, limit=limit)
    if as_json:
        for e in entries:
            record = {"id": e.id, "at": e.at, "who": e.who, "source": e.source, "action": e.action}
            click.echo(json.dumps({**record, "target": e.target, "detail": e.detail}, default=str))
        return
    if not entries:
        console.print("no audit entries")
        return
    table = Table(title="audit")
    for column in ("when", "who", "from", "action", "target", "detail"):
        table.add_column(column)
    for e in entries:
        detail = json.dumps(e.detail, default=str)
        table.add_row(clock(e.at), shown(e.who), shown(e.source), shown(e.action), shown(e.target), shown(detail[:200]))
    console.print(table)
