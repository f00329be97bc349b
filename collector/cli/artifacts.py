"""``runwatch artifacts`` and ``runwatch download``: what a run stored, and getting it back.

Like ``runwatch export``, they read the store and the blob store the settings name
(``--home``, ``RUNWATCH_DATABASE_URL``, ``RUNWATCH_ARTIFACTS_URL``) directly. A download
is written to a temporary file, verified against its SHA-256, then renamed into place,
so an interrupted download never leaves a file that looks whole.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table

from emitter.artifact_paths import clean_path

from ..artifacts import BlobStore, open_blob_store
from ..store.base import ArtifactFile, ArtifactVersion
from .common import age, common_options, console, err_console, existing_store, find_run, settings_from, shown

PROGRESS_FROM = 8 << 20  # files this large show a progress bar


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"


def _consumers(version: ArtifactVersion) -> str:
    return ", ".join(str(run.get("name") or run["id"]) for run in version.consumers) or "-"


@click.command()
@common_options
@click.argument("run_ref", metavar="RUN")
def artifacts(home: Path | None, redis_url: str | None, run_ref: str) -> None:
    """The artifacts RUN stored (every version, its files), used and had rejected."""
    store = existing_store(settings_from(home=home, redis_url=redis_url))
    run = find_run(store, run_ref)
    produced = store.artifacts.for_run(run.id)
    table = Table(title=f"artifacts of {shown(run.name)}")
    for column in ("path", "version", "aliases", "type", "files", "size", "sha256", "created", "used by"):
        table.add_column(column)
    for version in produced:
        table.add_row(
            shown(version.name),
            f"v{version.version}",
            shown(", ".join(version.aliases) or "-"),
            shown(version.type),
            str(len(version.files)),
            _size(version.size),
            version.digest[:12],
            age(version.created_at),
            shown(_consumers(version)),
        )
    console.print(table if produced else "no stored artifacts")
    for version in produced:
        if len(version.files) > 1:
            for file in version.files:
                console.print(f"  {shown(version.name)}/{shown(file.path)}  {_size(file.size)}  {file.sha256[:12]}")
    for version in store.artifacts.used_by(run.id):
        producer = version.producer.get("name") or version.producer["id"]
        console.print(f"used {shown(version.name)} v{version.version} (from {shown(producer)})")
    for rejected in store.artifacts.rejected(run.id):
        console.print(f"[red]rejected[/red] {shown(rejected.name)}: {shown(rejected.reason)}")


@click.command()
@common_options
@click.argument("run_ref", metavar="RUN")
@click.argument("path")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("."), help="Directory to write to.")
@click.option("--version", type=int, default=None, help="A version RUN produced [its newest].")
def download(
    home: Path | None, redis_url: str | None, run_ref: str, path: str, output: Path, version: int | None
) -> None:
    """Download PATH of RUN: one file (NAME/FILE) or a whole artifact (NAME), verified, into -o DIR."""
    settings = settings_from(home=home, redis_url=redis_url)
    store = existing_store(settings)
    run = find_run(store, run_ref)
    try:
        wanted = clean_path(path)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    found = store.artifacts.find(run.id, wanted, version)
    if found is None:
        raise click.ClickException(f"run {shown(run.name)} has no artifact at {shown(wanted)}")
    artifact, inner = found
    if inner:
        files = [f for f in artifact.files if f.path == inner]
        if not files:
            raise click.ClickException(f"{shown(artifact.name)} v{artifact.version} has no file {shown(inner)}")
        targets = [(files[0], output / files[0].path.rsplit("/", 1)[-1])]
    else:
        targets = [(file, output / file.path) for file in artifact.files]
    blobs = open_blob_store(settings)
    try:
        for file, target in targets:
            _fetch(blobs, file, target)
            err_console.print(f"{shown(target)}  {_size(file.size)}")
    finally:
        blobs.close()
    err_console.print(f"downloaded {len(targets)} file(s) of {shown(artifact.name)} v{artifact.version}")


def _fetch(blobs: BlobStore, file: ArtifactFile, target: Path) -> None:
    """Write one blob to ``target`` through a verified temporary file (a symlink there is replaced, not followed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    digest = hashlib.sha256()
    try:
        with open(temp, "xb") as out, _progress(file) as advance:
            for chunk in blobs.open(file.sha256):
                digest.update(chunk)
                out.write(chunk)
                advance(len(chunk))
        if digest.hexdigest() != file.sha256:
            raise click.ClickException(f"{shown(file.path)}: the stored bytes do not match their sha256")
        os.replace(temp, target)
    finally:
        try:
            temp.unlink()
        except FileNotFoundError:
            pass


@contextmanager
def _progress(file: ArtifactFile) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr for a large file; nothing for a small one."""
    if file.size < PROGRESS_FROM:
        yield lambda n: None
        return
    columns = ("{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=err_console) as bar:
        task = bar.add_task(shown(file.path), total=file.size)
        yield lambda n: bar.advance(task, n)
