"""Model stages: an alias (``staging``, ``production``, any name) pointed at a version of a ``model`` artifact.

One path for the CLI (``runwatch model promote NAME:v3 --alias production``) and the REST API
(``POST /api/v1/artifacts/{name}/aliases``): resolve the project and the version, check the
type and the alias, move it (``ArtifactStore.move_alias``: the alias history, and the audit
log's entry in the same transaction). Aliases set by an ``artifact`` event (``log_artifact(aliases=...)``)
share the same table and history.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from emitter.artifact_paths import clean_alias, clean_name

from .store.base import AliasMove, Store

__all__ = ["PROMOTABLE_TYPES", "Promotion", "PromotionError", "promote", "resolve_project"]

PROMOTABLE_TYPES = frozenset({"model"})


class PromotionError(ValueError):
    """Why a promotion cannot be made; ``status`` is the HTTP status the API answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Promotion:
    move: AliasMove
    changed: bool  # False: the alias pointed at that version already


def resolve_project(store: Store, name: str, project: str | None) -> str:
    """The project of artifact ``name``: the one given, or the only one holding that name."""
    if project is not None:
        return project
    projects = sorted({v.project for v in store.artifacts.versions(name=name, limit=1000)})
    if len(projects) > 1:
        raise PromotionError(400, f"{name!r} exists in projects {', '.join(projects)}: give the project")
    if not projects:
        raise PromotionError(404, f"no artifact named {name!r}")
    return projects[0]


def promote(
    store: Store,
    name: str,
    ref: str,
    alias: str,
    *,
    project: str | None,
    who: str,
    source: str,
    now: float | None = None,
) -> Promotion:
    """Point ``alias`` at version ``ref`` (``3``, ``v3``, ``latest`` or another alias) of model ``name``."""
    try:
        name = clean_name(name)
        alias = clean_alias(alias)
    except ValueError as exc:
        raise PromotionError(400, str(exc)) from None
    project = resolve_project(store, name, project)
    version = store.artifacts.get(project, name, ref)
    if version is None:
        raise PromotionError(404, f"no version {ref!r} of {name!r} in project {project!r}")
    if version.type not in PROMOTABLE_TYPES:
        raise PromotionError(
            400, f"{name!r} is of type {version.type!r}: only artifacts of type 'model' get stages (aliases)"
        )
    at = time.time() if now is None else now
    move = store.artifacts.move_alias(project, name, alias, version.version, by=who, now=at, source=source)
    if move is None:  # the version vanished between the two reads: nothing deletes versions, but say so
        raise PromotionError(404, f"no version {ref!r} of {name!r} in project {project!r}")
    return Promotion(move, move.from_version != move.to_version)
