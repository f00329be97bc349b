"""``runwatch digest preview NAME``: what a digest of the rules file would send right now."""

from __future__ import annotations

import json
from pathlib import Path

import click

from alerts.digest_render import digest_text

from .common import console, existing_store, home_option, settings_from
from .serve import load_ruleset_or_exit


@click.group()
def digest() -> None:
    """Digests: summaries of new best runs sent on a schedule (see docs/alerts.md)."""


@digest.command("preview")
@click.argument("name")
@click.option(
    "--alerts", "alerts_file", type=click.Path(path_type=Path), help="Rules file [$RUNWATCH_HOME/alerts.yaml]."
)
@click.option("--json", "as_json", is_flag=True, help="The report as JSON (what a webhook receives as alert.digest).")
@home_option
def digest_preview(name: str, alerts_file: Path | None, as_json: bool, home: Path | None) -> None:
    """Print the digest NAME as it would be sent now: the period since its last scheduled time.

    Nothing is sent and nothing is recorded.
    """
    from ..digests import DigestScheduler

    settings = settings_from(home=home, alerts=alerts_file)
    ruleset = load_ruleset_or_exit(settings.alerts_path)
    if not any(d.name == name for d in ruleset.digests):
        known = ", ".join(d.name for d in ruleset.digests) or "none"
        raise click.ClickException(f"no digest {name!r} in {settings.alerts_path} (has: {known})")
    store = existing_store(settings)
    try:
        scheduler = DigestScheduler(ruleset, store.runs, store.alerts, public_url=settings.dashboard_url)
        report = scheduler.preview(name)
    except ValueError as exc:  # FilterError: a scope that is not a runs filter
        raise click.ClickException(f"digest {name!r}: {exc}") from exc
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, allow_nan=False))
        return
    channels = ", ".join(ruleset.notify_for_digest(ruleset.digest(name)))
    console.print(f"would send to: {channels}", highlight=False, markup=False)
    click.echo(digest_text(report), nl=False)
