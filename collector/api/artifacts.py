"""Artifact routes under ``/api/v1``: uploads (writer role), listings, downloads and lineage (viewer).

Bytes go to the blob store (``app.state.blobs``) and the blob registry
(``store.artifacts.register_blob``) — never an event: an artifact becomes a version only
when its ``artifact`` event, sent by the emitter after the upload, is committed by the
collector. An upload is authenticated before a byte of its body is read (the role
dependency runs first), streamed into the blob store in 1 MiB pieces on a worker thread,
capped at ``artifact_max_bytes`` while it streams, and verified against the announced
SHA-256 before it becomes visible. Every rejection leaves nothing behind.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.requests import ClientDisconnect

from emitter.artifact_paths import clean_name, clean_path, is_sha256

from ..artifacts import BlobStore, BlobTooLarge, DigestMismatch
from ..artifacts.base import CHUNK
from ..artifacts.media import SNIFF_BYTES, content_disposition, parse_range, sniff_image
from ..store.base import ArtifactVersion, Store, artifact_json
from .auth import require


class AnyPathConvertor(PathConvertor):
    """Like ``path``, but also across newlines: a path with a control character gets the route's clear 400, not a 404."""

    regex = "(?s:.*)"


register_url_convertor("anypath", AnyPathConvertor())  # Starlette's registry of convertor names; idempotent

router = APIRouter(tags=["artifacts"])
viewer = [Depends(require("viewer"))]
writer = [Depends(require("writer"))]
SHA_HEADER = "x-runwatch-sha256"


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _blobs(request: Request) -> BlobStore:
    blobs: BlobStore = request.app.state.blobs
    return blobs


def _run_id(request: Request, ref: str) -> str:
    run_id = _store(request).runs.resolve(ref)
    if run_id is None:
        raise HTTPException(404, f"no run with id or unique name {ref!r}")
    return run_id


def _path(raw: str, what: str = "path") -> str:
    try:
        return clean_path(raw, what=what)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


# ------------------------------------------------------------------ upload


@router.head("/blobs/{sha256}", dependencies=viewer)
def head_blob(request: Request, sha256: str) -> Response:
    """200 when the blob store has these bytes (a client then never sends them again), 404 otherwise."""
    if not is_sha256(sha256):
        raise HTTPException(400, "not a lowercase hex sha256")
    store, blobs = _store(request), _blobs(request)
    size = store.artifacts.blob_size(sha256)
    if size is None:
        size = blobs.size(sha256)
        if size is None:
            return Response(status_code=404)
        store.artifacts.register_blob(sha256, size, request.app.state.clock())  # committed, never registered
    return Response(status_code=200, headers={"x-runwatch-size": str(size)})


@router.put("/runs/{run_id}/artifacts/{path:anypath}", dependencies=writer, status_code=201)
async def upload(request: Request, run_id: str, path: str) -> JSONResponse:
    """One file's bytes, streamed; ``X-Runwatch-Sha256`` is required and verified.

    201: stored. 200: these bytes were stored already (the body is not read). 400: a bad
    path, digest or run id, or bytes that do not match the digest. 413: larger than
    ``RUNWATCH_ARTIFACT_MAX_BYTES``.
    """
    if not run_id or len(run_id) > 250:
        raise HTTPException(400, "bad run id")
    path = _path(path)
    if "/" not in path:
        raise HTTPException(400, "path must be <artifact name>/<file path inside the artifact>")
    sha256 = request.headers.get(SHA_HEADER, "")
    if not is_sha256(sha256):
        raise HTTPException(400, f"header {SHA_HEADER} must be the lowercase hex sha256 of the body")
    limit = request.app.state.settings.artifact_max_bytes
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise HTTPException(413, f"an artifact file may have at most {limit} bytes")
    store, blobs, now = _store(request), _blobs(request), request.app.state.clock()
    existing = await run_in_threadpool(blobs.size, sha256)
    if existing is not None:
        await run_in_threadpool(store.artifacts.register_blob, sha256, existing, now)
        return JSONResponse({"path": path, "sha256": sha256, "size": existing, "created": False}, 200)
    size = await _receive(request, blobs, sha256, limit)
    await run_in_threadpool(store.artifacts.register_blob, sha256, size, now)
    return JSONResponse({"path": path, "sha256": sha256, "size": size, "created": True}, 201)


async def _receive(request: Request, blobs: BlobStore, sha256: str, limit: int) -> int:
    """Stream the body into a new blob: 1 MiB at a time to a worker thread; aborted on any failure."""
    blob = await run_in_threadpool(blobs.writer, sha256, limit)
    buffer = bytearray()
    try:
        async for chunk in request.stream():
            buffer += chunk
            if len(buffer) >= CHUNK:
                piece, buffer = bytes(buffer), bytearray()
                await run_in_threadpool(blob.write, piece)
        if buffer:
            await run_in_threadpool(blob.write, bytes(buffer))
        return await run_in_threadpool(blob.commit)
    except BlobTooLarge as exc:
        raise HTTPException(413, str(exc)) from None
    except DigestMismatch as exc:
        raise HTTPException(400, str(exc)) from None
    except ClientDisconnect:
        await run_in_threadpool(blob.abort)
        raise
    except BaseException:
        await run_in_threadpool(blob.abort)
        raise


# ------------------------------------------------------------------ reads


@router.get("/runs/{ref}/artifacts", dependencies=viewer)
def list_run_artifacts(request: Request, ref: str) -> dict[str, Any]:
    """What a run produced (every version, with files, aliases and consumers), used, and had rejected."""
    store = _store(request)
    run_id = _run_id(request, ref)
    return {
        "run": run_id,
        "artifacts": [artifact_json(v) for v in store.artifacts.for_run(run_id)],
        "used": [artifact_json(v) for v in store.artifacts.used_by(run_id)],
        "rejected": [
            {"name": r.name, "role": r.role, "reason": r.reason, "writer": r.writer, "seq": r.seq, "at": r.at}
            for r in store.artifacts.rejected(run_id)
        ],
    }


@router.get("/runs/{ref}/artifacts/{path:anypath}", dependencies=viewer)
def download(
    request: Request,
    ref: str,
    path: str,
    version: int | None = Query(None, ge=1, description="a version this run produced (default: its newest)"),
) -> Response:
    """A file (``<name>/<file>``), or the file of a one-file artifact (``<name>``). ``Range`` is honoured."""
    store, blobs = _store(request), _blobs(request)
    run_id = _run_id(request, ref)
    path = _path(path)
    found = store.artifacts.find(run_id, path, version)
    if found is None:
        raise HTTPException(404, f"run {run_id} has no artifact at {path!r}")
    artifact, inner = found
    file = _file_of(artifact, inner)
    head = b"".join(blobs.open(file.sha256, 0, SNIFF_BYTES - 1)) if file.size else b""
    image = sniff_image(head)
    headers = {
        "content-disposition": content_disposition(file.path.rsplit("/", 1)[-1], inline=image is not None),
        "x-content-type-options": "nosniff",
        "accept-ranges": "bytes",
        "etag": f'"{file.sha256}"',
        "x-runwatch-sha256": file.sha256,
        "x-runwatch-version": str(artifact.version),
    }
    wanted = parse_range(request.headers.get("range"), file.size)
    if wanted is False:
        raise HTTPException(416, "range not satisfiable", headers={"content-range": f"bytes */{file.size}"})
    status, start, end = 200, 0, file.size - 1
    if isinstance(wanted, tuple):
        status, (start, end) = 206, wanted
        headers["content-range"] = f"bytes {start}-{end}/{file.size}"
    headers["content-length"] = str(end - start + 1 if file.size else 0)
    body = blobs.open(file.sha256, start, end) if file.size else iter(())
    return StreamingResponse(body, status, headers=headers, media_type=image or "application/octet-stream")


def _file_of(artifact: ArtifactVersion, inner: str) -> Any:
    if not inner:
        if len(artifact.files) == 1:
            return artifact.files[0]
        raise HTTPException(
            400, f"{artifact.name!r} v{artifact.version} has {len(artifact.files)} files: name one (<name>/<file>)"
        )
    for file in artifact.files:
        if file.path == inner:
            return file
    raise HTTPException(404, f"{artifact.name!r} v{artifact.version} has no file {inner!r}")


@router.get("/artifacts", dependencies=viewer)
def list_artifacts(
    request: Request,
    name: str | None = None,
    project: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Versions across runs, newest first."""
    versions = _store(request).artifacts.versions(project=project, name=name, limit=limit)
    return {"artifacts": [artifact_json(v) for v in versions]}


@router.get("/artifacts/{name:path}/{ref}", dependencies=viewer)
def get_artifact(request: Request, name: str, ref: str, project: str | None = None) -> dict[str, Any]:
    """One version's manifest (files, producer, consumers) by number, ``latest`` or alias: what ``use_artifact`` reads.

    Without ``project``, the name must belong to a single project.
    """
    store = _store(request)
    try:
        name = clean_name(name)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    if project is None:
        projects = sorted({v.project for v in store.artifacts.versions(name=name, limit=1000)})
        if len(projects) > 1:
            raise HTTPException(400, f"{name!r} exists in projects {', '.join(projects)}: pass ?project=")
        if not projects:
            raise HTTPException(404, f"no artifact named {name!r}")
        project = projects[0]
    found = store.artifacts.get(project, name, ref)
    if found is None:
        raise HTTPException(404, f"no version {ref!r} of {name!r} in project {project!r}")
    return artifact_json(found)


@router.get("/runs/{ref}/lineage", dependencies=viewer)
def lineage(request: Request, ref: str) -> dict[str, Any]:
    """What the run produced (and who consumed it) and what it consumed (and who produced it)."""
    return _store(request).artifacts.lineage(_run_id(request, ref))
