"""The artifact spool: snapshots of logged files and the pending manifest of each, on local disk.

``$RUNWATCH_HOME/spool/artifacts/<writer>/`` holds, per logged artifact, ``<seq>.json`` (the
pending manifest: what to upload and the ``artifact`` event to send once it is, with the
writer and seq fixed before any upload starts) and ``<seq>/<n>`` (the snapshot of its
n-th file). A snapshot is a reflink (``FICLONE``) where the filesystem offers one, else
a kernel copy (``copy_file_range``/``sendfile`` through ``shutil.copyfile``); never a
hard link, which an in-place overwrite of the checkpoint would change. Manifests are
written by rename. A live emitter holds ``flock`` on ``<writer>.lock``, so nobody else
uploads its artifacts; a dead one's lock is free, and the next emitter start or
``runwatch sync`` delivers what it left.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from .artifact_paths import MAX_FILES, clean_path, manifest_digest

FORMAT = 1
FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)

STAGED = "staged"  # snapshots on disk, not all uploaded yet
UPLOADED = "uploaded"  # every blob stored; the event is sent until the collector confirms it


@dataclass(slots=True)
class StagedFile:
    path: str  # inside the artifact
    staged: str  # the snapshot's file name under <seq>/
    size: int
    sha256: str | None = None  # filled in by the uploader (hashing is never on the training thread)


@dataclass(slots=True)
class Pending:
    """One logged artifact on its way: the manifest as written to ``<seq>.json``."""

    run_id: str
    project: str
    writer: str
    seq: int
    ts: float
    name: str
    type: str
    aliases: list[str]
    metadata: dict[str, Any]
    files: list[StagedFile] = field(default_factory=list)
    state: str = STAGED
    format: int = FORMAT

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def event(self) -> list[Any]:
        """The ``[seq, ts, kind, payload]`` of the output event (every file hashed)."""
        digests = [(f.path, f.sha256 or "", f.size) for f in self.files]
        files = [{"path": path, "sha256": sha, "size": size} for path, sha, size in digests]
        return [
            self.seq,
            self.ts,
            "artifact",
            {
                "name": self.name,
                "uri": f"runwatch:{self.project}/{self.name}",
                "size": self.size,
                "sha256": manifest_digest(digests),
                "type": self.type,
                "aliases": self.aliases,
                "metadata": self.metadata,
                "files": files,
                "role": "output",
                "project": self.project,
            },
        ]


class WriterStaging:
    """One writer's staged artifacts (``<root>/<writer>/``)."""

    def __init__(self, root: Path, writer: str) -> None:
        self.root = root
        self.writer = writer
        self.directory = root / writer

    def __repr__(self) -> str:
        return f"<WriterStaging {self.directory}>"

    # ------------------------------------------------------------------ the training thread's part

    def stage(self, pending: Pending, sources: list[tuple[str, Path | bytes]]) -> Pending:
        """Snapshot every source (a file, or bytes) and write the manifest; the artifact is then safe on disk."""
        if len(sources) > MAX_FILES:
            raise ValueError(f"an artifact may hold at most {MAX_FILES} files, this one has {len(sources)}")
        folder = self.directory / f"{pending.seq:012d}"
        folder.mkdir(parents=True, exist_ok=True)
        try:
            for index, (path, source) in enumerate(sources):
                target = folder / str(index)
                if isinstance(source, bytes):
                    target.write_bytes(source)
                else:
                    snapshot(source, target)
                pending.files.append(StagedFile(path, str(index), target.stat().st_size))
            self.save(pending)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return pending

    # ------------------------------------------------------------------ the uploader's part

    def save(self, pending: Pending) -> None:
        path = self.directory / f"{pending.seq:012d}.json"
        temp = path.with_suffix(".tmp")
        temp.write_text(json.dumps(asdict(pending)))
        os.replace(temp, path)

    def staged_file(self, pending: Pending, file: StagedFile) -> Path:
        return self.directory / f"{pending.seq:012d}" / file.staged

    def pending(self) -> list[Pending]:
        """Every manifest of this writer, oldest first."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                raw = json.loads(path.read_text())
                raw["files"] = [StagedFile(**f) for f in raw["files"]]
                found.append(Pending(**raw))
            except (OSError, ValueError, TypeError, KeyError):
                continue  # a manifest being written by rename never looks like this; a foreign file does
        return found

    def drop_snapshots(self, pending: Pending) -> None:
        """Every blob is stored: the snapshots go, the manifest stays until the event is confirmed."""
        shutil.rmtree(self.directory / f"{pending.seq:012d}", ignore_errors=True)

    def done(self, pending: Pending) -> None:
        """The collector committed the event: nothing of this artifact stays on disk."""
        self.drop_snapshots(pending)
        try:
            (self.directory / f"{pending.seq:012d}.json").unlink()
        except FileNotFoundError:
            pass
        try:
            self.directory.rmdir()  # only when empty
        except OSError:
            pass

    def fail(self, pending: Pending, reason: str) -> None:
        """The API refused it for good (a bad path, too large): keep the manifest under ``failed/`` with the reason."""
        failed = self.root / "failed"
        failed.mkdir(parents=True, exist_ok=True)
        record = {**asdict(pending), "reason": reason}
        (failed / f"{pending.writer}.{pending.seq:012d}.json").write_text(json.dumps(record))
        self.done(pending)


class Locks:
    """``flock`` per writer under the staging root: held by the live emitter, taken by whoever adopts."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._held: dict[str, IO[bytes]] = {}

    def try_lock(self, writer: str) -> bool:
        if writer in self._held:
            return True
        self.root.mkdir(parents=True, exist_ok=True)
        fh = open(self.root / f"{writer}.lock", "ab")  # noqa: SIM115 - held until unlock()
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        self._held[writer] = fh
        return True

    def unlock(self, writer: str) -> None:
        fh = self._held.pop(writer, None)
        if fh is None:
            return
        if not (self.root / writer).exists():
            try:
                (self.root / f"{writer}.lock").unlink()
            except FileNotFoundError:
                pass
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()

    def unlock_all(self) -> None:
        for writer in list(self._held):
            self.unlock(writer)

    def forget(self) -> None:
        """After fork(): the child neither holds nor releases the parent's locks."""
        for fh in self._held.values():
            try:
                fh.close()
            except OSError:
                pass
        self._held.clear()


def staged_writers(root: Path) -> list[str]:
    """Writers with staged artifacts under ``root`` (oldest writer ids sort first: they are ULID-like)."""
    if not root.is_dir():
        return []
    return sorted(entry.name for entry in os.scandir(root) if entry.is_dir() and entry.name != "failed")


def snapshot(source: Path, target: Path) -> None:
    """Copy ``source`` as it is now: a reflink when the filesystem can, else a kernel copy."""
    with open(source, "rb") as src, open(target, "wb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
            return
        except OSError:
            pass  # not a CoW filesystem (ext4, tmpfs) or across filesystems
    shutil.copyfile(source, target)  # sendfile/copy_file_range inside the kernel


def collect_sources(path: Path) -> list[tuple[str, Path]]:
    """The files to snapshot for ``path`` (a file, or a directory walked without following symlinks out).

    A symlink inside the directory that resolves inside it is stored as the file it points
    to; one that leads outside, a broken one, or anything that is not a regular file raises
    ``ValueError`` naming it (nothing is dropped silently).
    """
    if path.is_file():
        return [(clean_path(path.name, what="file name"), path)]
    if not path.is_dir():
        raise FileNotFoundError(f"log_artifact: no such file or directory: {path}")
    root = path.resolve()
    sources: list[tuple[str, Path]] = []
    for directory, subdirs, names in os.walk(path, followlinks=False):
        for sub in subdirs:
            _inside(root, Path(directory) / sub)  # a linked directory is not descended, but must not point out
        for name in sorted(names):
            entry = Path(directory) / name
            target = _inside(root, entry)
            if not target.is_file():
                raise ValueError(f"log_artifact: {entry} is not a regular file")
            relative = entry.relative_to(path).as_posix()
            sources.append((clean_path(relative, what="file path"), entry))
    if not sources:
        raise ValueError(f"log_artifact: directory {path} holds no files")
    return sorted(sources)


def _inside(root: Path, entry: Path) -> Path:
    if not entry.is_symlink():
        return entry
    target = entry.resolve()
    if not target.exists():
        raise ValueError(f"log_artifact: {entry} is a broken symlink")
    if target != root and root not in target.parents:
        raise ValueError(f"log_artifact: {entry} is a symlink to {target}, outside {root}: copy it in, or log it apart")
    return target
