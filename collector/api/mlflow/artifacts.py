"""MLflow's artifact proxy, ``/api/2.0/mlflow-artifacts/artifacts/<path>``, on runwatch's artifact store.

A run's ``artifact_uri`` is ``mlflow-artifacts:/runs/<run id>/artifacts``; a logged model's is
``mlflow-artifacts:/models/<model id>/artifacts`` (its files belong to its source run, under
the artifact names ``mlflow-models/<model id>/…``). Each uploaded file becomes one runwatch
artifact named by its MLflow path: its bytes go to the blob store (verified, content-addressed)
and only then its ``artifact`` event goes through the stream, as the emitter's uploads do, so a
listed file can always be downloaded. Uploading a path again makes its next version (MLflow
overwrites; the newest version is what MLflow reads).
"""

from __future__ import annotations

import hashlib
import posixpath
import tempfile
import time
from collections.abc import Iterator
from typing import IO, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from emitter.artifact_paths import clean_name
from emitter.events import Kind

from ...artifacts import BlobStore
from ...artifacts.base import CHUNK
from ...store.records import ArtifactFile, ArtifactVersion
from .common import get_run, store_of, viewer, writer, writer_of
from .errors import MlflowError, invalid, not_found
from .writer import Pending, request_digest

router = APIRouter()
MODELS_PREFIX = "mlflow-models/"
SPOOL_IN_MEMORY = 8 << 20  # an upload larger than this waits in a temporary file, not in memory


def run_of_model(model_id: str) -> str:
    """A logged model's id carries its source run's id: ``m-<run id>-<random>``."""
    parts = model_id.split("-")
    if len(parts) != 3 or parts[0] != "m" or not parts[1]:
        raise not_found(f"Logged model with ID '{model_id}' not found")
    return parts[1]


def locate(path: str) -> tuple[str, str]:
    """``(run id, artifact name)`` of an MLflow artifact path, or the root of a listing (name "")."""
    parts = path.strip("/").split("/", 3)
    if len(parts) < 3 or parts[2] != "artifacts" or parts[0] not in ("runs", "models"):
        raise invalid(f"Unknown artifact location {path[:200]!r}: runs/<run id>/artifacts/… or models/<id>/artifacts/…")
    rel = parts[3] if len(parts) == 4 else ""
    if parts[0] == "runs":
        return parts[1], rel
    return run_of_model(parts[1]), f"{MODELS_PREFIX}{parts[1]}" + (f"/{rel}" if rel else "")


def _blobs(request: Request) -> BlobStore:
    blobs: BlobStore = request.app.state.blobs
    return blobs


@router.put("/artifacts/{path:path}", dependencies=writer)
async def upload(request: Request, path: str) -> dict[str, Any]:
    """One file: stored in the blob store, then recorded by an ``artifact`` event of its run."""
    run_id, name = locate(path)
    if not name or name.startswith(MODELS_PREFIX) and name.count("/") < 2:
        raise invalid("An artifact upload needs a file path")
    try:
        name = clean_name(name)
    except ValueError as exc:
        raise invalid(f"Invalid artifact path {path[:200]!r}: {exc}") from None
    await get_run(request, run_id)
    limit = request.app.state.settings.artifact_max_bytes
    with tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY) as spool:
        sha256, size = await _receive(request, spool, limit)
        await run_in_threadpool(_store_blob, request, spool, sha256, size)
    payload = {
        "name": name,
        "uri": f"mlflow-artifacts:/{path.strip('/')}",
        "size": size,
        "sha256": sha256,
        "type": "file",
        "files": [{"path": posixpath.basename(name), "sha256": sha256, "size": size}],
        "metadata": {"source": "mlflow"},
    }
    digest = request_digest(request.url.path, run_id, sha256.encode())
    await writer_of(request).write(run_id, [Pending(Kind.ARTIFACT, payload, time.time())], digest)
    return {}


async def _receive(request: Request, spool: IO[bytes], limit: int) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise MlflowError("INVALID_PARAMETER_VALUE", f"an artifact file may have at most {limit} bytes")
        digest.update(chunk)
        await run_in_threadpool(spool.write, chunk)
    return digest.hexdigest(), size


def _store_blob(request: Request, spool: IO[bytes], sha256: str, size: int) -> None:
    blobs = _blobs(request)
    if blobs.size(sha256) is None:
        blob = blobs.writer(sha256, max(size, 1))
        try:
            spool.seek(0)
            while piece := spool.read(CHUNK):
                blob.write(piece)
            blob.commit()
        except BaseException:
            blob.abort()
            raise
    store_of(request).artifacts.register_blob(sha256, size, request.app.state.clock())


def newest_files(versions: list[ArtifactVersion]) -> dict[str, ArtifactFile]:
    """Every file of a run by MLflow path, from the newest version of each artifact name."""
    newest: dict[str, ArtifactVersion] = {}
    for version in versions:
        if version.name not in newest or version.version > newest[version.name].version:
            newest[version.name] = version
    files: dict[str, ArtifactFile] = {}
    for name, version in newest.items():
        if version.metadata.get("source") == "mlflow" and len(version.files) == 1:
            files[name] = version.files[0]
        else:  # an artifact logged natively (emitter.log_artifact): its files under its name
            for file in version.files:
                files[f"{name}/{file.path}"] = file
    return files


@router.get("/artifacts", dependencies=viewer)
async def list_artifacts(request: Request) -> dict[str, Any]:
    """The files and directories directly under ``path`` (``{"files": [{path, is_dir, file_size}]}``)."""
    path = request.query_params.get("path", "")
    run_id, prefix = locate(path)
    await get_run(request, run_id)
    versions = await run_in_threadpool(store_of(request).artifacts.for_run, run_id)
    files = newest_files(versions)
    children: dict[str, dict[str, Any]] = {}
    base = f"{prefix}/" if prefix else ""
    for full, file in sorted(files.items()):
        if not full.startswith(base) or (not prefix and full.startswith(MODELS_PREFIX)):
            continue
        head, _, rest = full[len(base) :].partition("/")
        if rest:
            children.setdefault(head, {"path": head, "is_dir": True})
        else:
            children[head] = {"path": head, "is_dir": False, "file_size": file.size}
    return {"files": list(children.values())}


@router.get("/artifacts/{path:path}", dependencies=viewer)
async def download(request: Request, path: str) -> Response:
    run_id, name = locate(path)
    await get_run(request, run_id)
    versions = await run_in_threadpool(store_of(request).artifacts.for_run, run_id)
    file = newest_files(versions).get(name)
    if file is None:
        raise not_found(f"No artifact at {path[:200]!r}")
    blobs = _blobs(request)
    body: Iterator[bytes] = blobs.open(file.sha256, 0, file.size - 1) if file.size else iter(())
    headers = {"content-length": str(file.size), "x-content-type-options": "nosniff"}
    return StreamingResponse(body, 200, headers=headers, media_type="application/octet-stream")


@router.delete("/artifacts/{path:path}", dependencies=writer)
async def delete(request: Request, path: str) -> None:
    raise MlflowError("BAD_REQUEST", "runwatch keeps every artifact version; deleting artifacts is not supported")
