"""Ids and names: run ids (time-sortable ULIDs), writer ids, readable ``<project>_<date>_<slug>`` run names."""

from __future__ import annotations

import datetime as _dt
import secrets
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ADJECTIVES = [
    "amber",
    "azure",
    "bold",
    "brave",
    "calm",
    "clever",
    "cosmic",
    "crisp",
    "dapper",
    "eager",
    "fancy",
    "gentle",
    "glad",
    "golden",
    "happy",
    "hazy",
    "icy",
    "jolly",
    "keen",
    "lively",
    "lucid",
    "lunar",
    "mellow",
    "misty",
    "noble",
    "polar",
    "proud",
    "quiet",
    "rapid",
    "royal",
    "rustic",
    "shiny",
    "silent",
    "sleek",
    "snowy",
    "solar",
    "spry",
    "steady",
    "sunny",
    "swift",
    "tidy",
    "vivid",
    "warm",
    "wild",
    "witty",
    "zesty",
]
_NOUNS = [
    "badger",
    "bison",
    "cedar",
    "comet",
    "crane",
    "delta",
    "dune",
    "eagle",
    "ember",
    "falcon",
    "fern",
    "fjord",
    "gecko",
    "glacier",
    "harbor",
    "hawk",
    "heron",
    "island",
    "jaguar",
    "koala",
    "lark",
    "lotus",
    "lynx",
    "maple",
    "meadow",
    "moose",
    "nebula",
    "otter",
    "owl",
    "panda",
    "pebble",
    "quartz",
    "raven",
    "reef",
    "river",
    "robin",
    "sparrow",
    "spruce",
    "summit",
    "thunder",
    "tiger",
    "tundra",
    "violet",
    "walrus",
    "willow",
    "wolf",
    "yak",
    "zephyr",
]


def new_run_id() -> str:
    """A unique, time-sortable id: 48-bit milliseconds then 80 random bits, Crockford base32 (a ULID)."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def generate_name(project: str, today: _dt.date | None = None) -> str:
    """``<project>_<YYYY-MM-DD>_<short-slug>``, e.g. ``cifar_2026-11-26_swift-otter``."""
    day = (today or _dt.date.today()).isoformat()
    return f"{project}_{day}_{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}"


def new_writer_id() -> str:
    """A random id per emitter instance (and per forked child), so no two writers ever share a seq."""
    return secrets.token_hex(8)
