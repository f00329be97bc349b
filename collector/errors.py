"""Errors of the collector service.

CollectorError
├── EmbeddedRedisError   no Redis could be started or found
├── ConfigError          settings that cannot work together (e.g. public bind without auth, a malformed database URL)
├── StoreUnavailable     the database the settings name cannot be reached
├── SchemaBehind         the database lacks schema migrations this runwatch needs (``runwatch migrate``)
└── RunNotFound          a run reference (id or unique name) matched nothing
"""

from __future__ import annotations


class CollectorError(Exception):
    """Base class of every error the collector raises on purpose."""


class EmbeddedRedisError(CollectorError):
    """The embedded Redis could not be started."""


class ConfigError(CollectorError):
    """The configuration cannot work."""


class StoreUnavailable(CollectorError):
    """The database cannot be reached (server down, wrong host or port, authentication refused)."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"cannot reach the database {where}: {reason}")


class SchemaBehind(CollectorError):
    """The database schema lacks migrations this runwatch needs, and migrating was not allowed."""

    def __init__(self, where: str, version: int, pending: list[str]) -> None:
        self.where = where
        self.version = version
        self.pending = pending
        super().__init__(
            f"the database {where} is at schema version {version} and needs {len(pending)} more migration(s)"
            f" ({', '.join(pending)}): run `runwatch migrate` first, or start without --no-migrate"
        )


class RunNotFound(CollectorError):
    """No run, or more than one run, matches a reference."""

    def __init__(self, ref: str, matches: int = 0) -> None:
        self.ref = ref
        self.matches = matches
        detail = "no run has that id or name" if matches == 0 else f"{matches} runs have that name; use the run id"
        super().__init__(f"{ref!r}: {detail}")
