"""Errors of the collector service.

CollectorError
├── EmbeddedRedisError   no Redis could be started or found
├── ConfigError          settings that cannot work together (e.g. public bind without auth)
└── RunNotFound          a run reference (id or unique name) matched nothing
"""

from __future__ import annotations


class CollectorError(Exception):
    """Base class of every error the collector raises on purpose."""


class EmbeddedRedisError(CollectorError):
    """The embedded Redis could not be started."""


class ConfigError(CollectorError):
    """The configuration cannot work."""


class RunNotFound(CollectorError):
    """No run, or more than one run, matches a reference."""

    def __init__(self, ref: str, matches: int = 0) -> None:
        self.ref = ref
        self.matches = matches
        detail = "no run has that id or name" if matches == 0 else f"{matches} runs have that name; use the run id"
        super().__init__(f"{ref!r}: {detail}")
