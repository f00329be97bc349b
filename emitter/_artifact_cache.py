"""``use_artifact``'s downloads: a content-addressed, verified cache under ``$RUNWATCH_HOME/cache``.

``cache/blobs/ab/<sha256>`` holds each blob once, verified as it arrives and made
read-only (so editing a file handed out cannot corrupt the cache quietly);
``cache/artifacts/<project>/<name>/v<N>/`` is a version's tree, its files hard links to
those blobs (copies across filesystems), and ``v<N>.json`` beside it the manifest the
API gave. A version already complete is served from disk with no download; an explicit
version number is served from the cache even when the API is unreachable.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ._http import ApiClient, ApiUnavailable, quote_path
from .artifact_paths import clean_name, clean_path, parse_version_ref


class CorruptDownload(Exception):
    """The bytes that arrived do not hash to the digest the manifest names."""


class ArtifactCache:
    """Fetches versions into ``root`` and says where their files are."""

    def __init__(self, root: Path, api: ApiClient) -> None:
        self.root = root
        self._api = api

    def fetch(self, project: str, name: str, ref: str) -> tuple[dict[str, Any], Path]:
        """``(manifest, path)`` of a version (``latest``, a number or an alias): a directory, or a one-file artifact's file."""
        name = clean_name(name)
        try:
            manifest = self._api.get_json(
                f"/api/v1/artifacts/{quote_path(name)}/{quote(ref, safe='')}", {"project": project}
            )
        except ApiUnavailable:
            number = parse_version_ref(ref)
            cached = self._cached_manifest(project, name, number) if number is not None else None
            if cached is None:
                raise
            manifest = cached
        tree = self._version_dir(manifest["project"], name, manifest["version"])
        for file in manifest["files"]:
            inner = clean_path(file["name"], what="file path")
            blob = self._blob(manifest, file)
            self._place(blob, tree / inner, file["size"])
        (tree.parent / f"v{manifest['version']}.json").write_text(json.dumps(manifest))
        files = manifest["files"]
        location: Path = tree / clean_path(files[0]["name"]) if len(files) == 1 else tree
        return manifest, location

    # ------------------------------------------------------------------ internals

    def _version_dir(self, project: str, name: str, version: int) -> Path:
        return self.root / "artifacts" / quote(project, safe="") / name / f"v{int(version)}"

    def _cached_manifest(self, project: str, name: str, version: int) -> dict[str, Any] | None:
        path = self._version_dir(project, name, version).parent / f"v{version}.json"
        try:
            manifest: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return manifest

    def _blob(self, manifest: dict[str, Any], file: dict[str, Any]) -> Path:
        sha = str(file["sha256"])
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise ValueError(f"manifest names a bad sha256 {sha!r}")
        blob = self.root / "blobs" / sha[:2] / sha
        if blob.is_file() and blob.stat().st_size == file["size"]:
            return blob
        blob.parent.mkdir(parents=True, exist_ok=True)
        temp = blob.with_name(f".{sha}.{uuid.uuid4().hex}.part")
        producer = manifest["producer"]["id"]
        path = f"/api/v1/runs/{quote(producer, safe='')}/artifacts/{quote_path(file['path'])}"
        try:
            with open(temp, "wb") as out:
                got = self._api.download(path, out, params={"version": manifest["version"]})
            if got != sha:
                raise CorruptDownload(f"{file['path']}: downloaded bytes hash to {got}, the manifest says {sha}")
            os.chmod(temp, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
            os.replace(temp, blob)
        finally:
            try:
                temp.unlink()
            except FileNotFoundError:
                pass
        return blob

    @staticmethod
    def _place(blob: Path, target: Path, size: int) -> None:
        """Put the blob at ``target`` (a hard link, else a copy), replacing whatever is there without following it."""
        if target.is_file() and not target.is_symlink() and target.stat().st_size == size:
            try:
                if os.path.samefile(blob, target):
                    return
            except OSError:
                pass
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
        try:
            os.link(blob, temp)
        except OSError:
            shutil.copyfile(blob, temp)
        os.replace(temp, target)
