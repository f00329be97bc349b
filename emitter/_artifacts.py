"""A run's artifacts: ``log_artifact``, ``log_image`` and ``use_artifact`` behind ``Run``.

On the training thread ``log`` only checks its arguments, snapshots the files into the
artifact spool and writes the pending manifest (``_staging.py``); it returns an
``ArtifactHandle`` at once. Hashing, uploading and the ``artifact`` event happen on the
uploader's thread (``_uploader.py``), under an artifact writer of this run's own, so the
training writer's seqs are never disturbed.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ._artifact_cache import ArtifactCache
from ._http import ApiClient
from ._media import encode_image
from ._names import new_writer_id
from ._staging import Locks, Pending, WriterStaging, collect_sources, staged_writers
from ._uploader import EventLink, Uploader
from ._validate import bounded_mapping
from .artifact_paths import MAX_ALIASES, clean_alias, clean_name, clean_path, clean_type
from .events import Keys, Kind

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


class ArtifactHandle:
    """What ``run.log_artifact()`` returns: the artifact on its way to the server.

    >>> handle = run.log_artifact("checkpoints/best.pt", name="model", aliases=["best"])
    >>> handle.wait(timeout=60)          # True once stored and committed
    True
    >>> handle.version                   # 1, 2, ... per (project, name)
    3

    ``wait`` never raises; on False, ``error`` says why (None: still on its way, e.g. the
    API is down: the artifact stays staged and is delivered later).
    """

    def __init__(self, name: str, type: str) -> None:
        self.name = name
        self.type = type
        self.version: int | None = None
        self.error: str | None = None
        self._done = threading.Event()

    def __repr__(self) -> str:
        state = "stored" if self._done.is_set() and self.error is None else ("failed" if self.error else "pending")
        return f"<ArtifactHandle {self.name!r} v={self.version} {state}>"

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the artifact is stored (True), failed for good, or ``timeout`` passed (False)."""
        return self._done.wait(timeout) and self.error is None

    # the uploader's side (``_uploader.Outcome``)

    def stored(self, version: int | None) -> None:
        self.version = version
        self._done.set()

    def failed(self, reason: str) -> None:
        self.error = reason
        self._done.set()


class Artifacts:
    """One run's artifact machinery: staging, the uploader thread (started on demand), the download cache."""

    def __init__(
        self,
        *,
        run_id: str,
        project: str,
        home: Path,
        redis_url: str,
        keys: Keys,
        shards: int,
        emit: Callable[[str, dict[str, Any]], None],
    ) -> None:
        self._run_id = run_id
        self._project = project
        self._home = home
        self._redis_url = redis_url
        self._keys = keys
        self._shards = shards
        self._emit = emit
        self.writer = new_writer_id()
        self._seq = itertools.count()
        self._root = home / "spool" / "artifacts"
        self._api_client: ApiClient | None = None
        self._locks = Locks(self._root)
        self._uploader: Uploader | None = None
        if staged_writers(self._root):  # earlier jobs on this machine left artifacts: deliver them
            self._start_uploader()

    def __repr__(self) -> str:
        return f"<Artifacts writer={self.writer} {self._uploader!r}>"

    @property
    def _api(self) -> ApiClient:
        """Built on first use: a run that never logs an artifact never reads ``RUNWATCH_URL``."""
        if self._api_client is None:
            self._api_client = ApiClient.from_env()
        return self._api_client

    # ------------------------------------------------------------------ the training thread

    def log(
        self,
        path: str | os.PathLike[str],
        name: str | None,
        *,
        type: str,
        aliases: Iterable[str],
        metadata: Mapping[str, Any] | None,
    ) -> ArtifactHandle:
        kind = clean_type(type)
        alias_list = sorted({clean_alias(alias) for alias in _strings("aliases", aliases)})
        if len(alias_list) > MAX_ALIASES:
            raise ValueError(f"at most {MAX_ALIASES} aliases")
        meta = bounded_mapping("metadata", metadata or {})
        text = os.fspath(path)
        if isinstance(text, str) and _URI.match(text) and not Path(text).exists():
            return self._reference(text, name, kind)
        source = Path(text)
        artifact = clean_name(name if name is not None else source.name)
        return self._stage(artifact, kind, alias_list, meta, collect_sources(source))

    def log_image(self, key: str, image: Any, step: int | None) -> ArtifactHandle:
        name = clean_name(key)
        data, ext = encode_image(image)
        stem = name.rsplit("/", 1)[-1]
        file_name = clean_path(f"{stem}{'' if step is None else f'_{step}'}.{ext}", what="file name")
        return self._stage(name, "image", [], {"step": step}, [(file_name, data)])

    def use(self, name: str, version: int | str, project: str | None) -> Path:
        """Download (or find in the cache) a version and record that this run consumed it."""
        if isinstance(version, bool) or not isinstance(version, (int, str)):
            raise TypeError(f"version must be 'latest', a number or an alias, got {type(version).__name__}")
        ref = str(version)
        cache = ArtifactCache(self._home / "cache", self._api)
        manifest, location = cache.fetch(project or self._project, name, ref)
        self._emit(
            Kind.ARTIFACT,
            {
                "name": manifest["name"],
                "uri": f"runwatch:{manifest['project']}/{manifest['name']}:v{manifest['version']}",
                "size": manifest["size"],
                "sha256": manifest["sha256"],
                "type": manifest["type"],
                "role": "input",
                "version": manifest["version"],
                "project": manifest["project"],
            },
        )
        return location

    # ------------------------------------------------------------------ lifecycle

    def close(self, timeout: float) -> None:
        """At the run's end: deliver what can be delivered in ``timeout``; the rest stays staged."""
        if self._uploader is not None:
            self._uploader.close(timeout)
        self._locks.unlock_all()

    def after_fork(self) -> Artifacts:
        """In a forked child: a fresh writer with no thread and none of the parent's locks."""
        self._locks.forget()
        child = Artifacts.__new__(Artifacts)
        child.__dict__.update(self.__dict__)
        child.writer = new_writer_id()
        child._seq = itertools.count()
        child._locks = Locks(self._root)
        child._uploader = None
        return child

    # ------------------------------------------------------------------ internals

    def _stage(
        self,
        name: str,
        kind: str,
        aliases: list[str],
        metadata: dict[str, Any],
        sources: list[tuple[str, Path | bytes]] | list[tuple[str, Path]],
    ) -> ArtifactHandle:
        self._locks.try_lock(self.writer)
        staging = WriterStaging(self._root, self.writer)
        pending = Pending(
            run_id=self._run_id,
            project=self._project,
            writer=self.writer,
            seq=next(self._seq),
            ts=time.time(),
            name=name,
            type=kind,
            aliases=aliases,
            metadata=metadata,
        )
        staging.stage(pending, list(sources))
        handle = ArtifactHandle(name, kind)
        self._start_uploader().submit(pending, staging, handle)
        return handle

    def _reference(self, uri: str, name: str | None, kind: str) -> ArtifactHandle:
        """A URI (``s3://…``, ``gs://…``): recorded as a reference, as the contract always allowed; nothing uploaded."""
        artifact = clean_name(name if name is not None else uri.rstrip("/").rsplit("/", 1)[-1])
        self._emit(Kind.ARTIFACT, {"name": artifact, "uri": uri, "size": None, "sha256": None, "type": kind})
        handle = ArtifactHandle(artifact, kind)
        handle.stored(None)
        return handle

    def _start_uploader(self) -> Uploader:
        if self._uploader is None:
            self._locks.try_lock(self.writer)
            self._uploader = Uploader(
                root=self._root,
                api=self._api,
                link=EventLink(self._redis_url, self._keys, self._shards),
                locks=self._locks,
                find_version=self._find_version,
                own_writer=self.writer,
            )
            self._uploader.start()
        return self._uploader

    def _find_version(self, pending: Pending) -> tuple[int | None, str | None]:
        """After the collector committed the event: the version it became, or why it was rejected."""
        listing = self._api.get_json(f"/api/v1/runs/{quote(pending.run_id, safe='')}/artifacts")
        for version in listing["artifacts"]:
            if version["writer"] == pending.writer and version["seq"] == pending.seq:
                return int(version["version"]), None
        for rejected in listing["rejected"]:
            if rejected["writer"] == pending.writer and rejected["seq"] == pending.seq:
                return None, str(rejected["reason"])
        return None, None


def _strings(field: str, values: Iterable[str]) -> list[str]:
    if isinstance(values, str):
        raise TypeError(f"{field} must be a list of strings, not one string")
    return list(values)
