"""What every ``runwatch`` command shares: the common options, settings, the store, runs by name."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from ..errors import CollectorError, RunNotFound
from ..settings import Settings, load_settings
from ..store import SchemaPolicy, Store, backend_of, open_store
from ..store.base import RunRecord

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

home_option = click.option(
    "--home", type=click.Path(path_type=Path), help="Data directory [env RUNWATCH_HOME; ./.runwatch]."
)
redis_url_option = click.option(
    "--redis-url",
    help="Redis URL: redis://, rediss:// (TLS), redis+cluster:// (Redis Cluster)"
    " [env RUNWATCH_REDIS_URL; embedded Redis when unset].",
)


def common_options(fn: F) -> F:
    """``--home`` and ``--redis-url``, which nearly every command takes."""
    return home_option(redis_url_option(fn))


def settings_from(**overrides: Any) -> Settings:
    """The settings for this invocation; flags left unset fall through to the environment."""
    try:
        return load_settings(**overrides)
    except Exception as exc:  # pydantic ValidationError: show it plainly
        raise click.ClickException(f"invalid configuration: {exc}") from exc


def store_exists(settings: Settings) -> bool:
    """Whether the store the settings name may hold data: a database server, or a SQLite file that exists."""
    try:
        return backend_of(settings.database_url) == "postgres" or settings.sqlite_path.exists()
    except CollectorError as exc:
        raise click.ClickException(str(exc)) from exc


def existing_store(settings: Settings) -> Store:
    """The store, which must exist already: a reading command never creates an empty database."""
    if not store_exists(settings):
        raise click.ClickException(
            f"no runwatch database at {settings.sqlite_path}: start `runwatch serve` first, or pass --home"
        )
    return any_store(settings)


def any_store(settings: Settings, *, schema: SchemaPolicy = "migrate") -> Store:
    """The store, created if need be (tokens and silences may be set up before the first `serve`).

    A malformed database URL, an unreachable server or a schema that is behind is a clear
    error, not a traceback. The store is closed when the command ends (its pool, for PostgreSQL).
    """
    try:
        store = open_store(settings, schema=schema)
    except (CollectorError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(store.close)
    return store


def find_run(store: Store, ref: str) -> RunRecord:
    """The run with this id or unique name, or a clear error naming how many runs share the name."""
    run = store.runs.get(ref)
    if run is None:
        raise click.ClickException(str(RunNotFound(ref, len(store.runs.named(ref)))))
    return run


def age(ts: float | None) -> str:
    """How long ago, compactly: ``42s``, ``5m``, ``3h``, ``2d``."""
    if ts is None:
        return "-"
    seconds = max(0.0, time.time() - ts)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def number(value: float) -> str:
    """A metric value for a table: 4 significant digits, non-finite values as Python spells them."""
    return repr(value) if not math.isfinite(value) else f"{value:.4g}"


def clock(ts: float) -> str:
    """A local date and time to the minute."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


# C0 and C1 controls, DEL, zero-width and bidirectional overrides: a name holding them could
# move the cursor, retitle the terminal or reorder what the reader sees.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean(value: object) -> str:
    """User text made safe for a terminal: control characters escaped visibly (``\\x1b``)."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode(), str(value))


def shown(value: object) -> str:
    """User text made safe to print through Rich: ``clean``, and its markup inert."""
    return escape(clean(value))
