"""Which data a run used: the DVC state of its working tree, Git LFS pointers, declared datasets.

``Provenance.start`` runs on a daemon thread from ``init()``: a repository with thousands
of ``.dvc`` files takes longer to read than ``init()`` may, so the answer arrives as one
``params`` event, ``runwatch/data``, moments after the run starts (``finish()`` waits
for it briefly). The files are parsed here — DVC and git are never run — so nothing is
needed on the machine, and a malformed file is a warning naming it (``warnings`` in the
result), never an exception in training code::

    {"dvc": {"root": "/repo", "remote": "s3://bucket/dvc", "remotes": {"storage": "s3://..."},
             "files": {"data/train.csv": "a304afb9...", "data/images": "153aad06....dir"}},
     "lfs": {"weights/base.bin": {"oid": "sha256:4d7a...", "size": 1048576}},
     "warnings": ["data/bad.dvc: no md5 for output 'x'"]}

DVC's files are YAML, but of a fixed shape: a small line reader takes what is needed
(``path`` and ``md5`` of every output and dependency) without a YAML library, which the
emitter does not depend on.
"""

from __future__ import annotations

import configparser
import hashlib
import logging
import os
import posixpath
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .capture import redact_text
from .events import MAX_KEY_LENGTH

__all__ = ["Provenance", "artifact_ref", "dataset_entry", "dataset_param", "dvc_state", "lfs_pointer", "parse_dvc_yaml"]

logger = logging.getLogger(__name__)

PARAM = "runwatch/data"
MAX_TRACKED = 20_000  # paths recorded per run (the params event stays far below its 1 MiB limit)
MAX_VISITED = 200_000  # directory entries looked at while searching for .dvc files
MAX_DVC_FILE = 1 << 20  # bytes of one .dvc file or dvc.lock read
MAX_CANDIDATES = 1_000  # config values looked at as possible LFS paths
MAX_HASHED = 1 << 30  # an LFS file checked out in full is hashed up to this size
_SKIP_DIRS = frozenset({".git", ".dvc", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox"})
_LFS_HEADER = b"version https://git-lfs.github.com/spec/v1"
_REMOTE_SECTION = re.compile(r"""^'?\s*remote\s+"(.+)"\s*'?$""")


# ------------------------------------------------------------------ DVC


def parse_dvc_yaml(text: str) -> list[tuple[tuple[str, ...], dict[str, str]]]:
    """The list items of a ``.dvc`` file or ``dvc.lock``: (enclosing keys, item's scalar fields).

    ``outs:\\n- md5: x\\n  path: a`` gives ``[(("outs",), {"md5": "x", "path": "a"})]``; a
    nested mapping inside an item gives dotted keys (``repo.url``). ``ValueError`` for
    what is not block YAML of that shape (a tab indent, a flow document, binary).
    """
    items: list[tuple[tuple[str, ...], dict[str, str]]] = []
    stack: list[tuple[int, str]] = []  # (indent, key) of the mappings enclosing the line
    item: dict[str, str] | None = None
    item_indent = 0
    nested: list[tuple[int, str]] = []  # inside an item: (indent, key) of its nested mappings
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if "\t" in raw[: len(raw) - len(raw.lstrip())] or "\x00" in raw:
            raise ValueError(f"line {number}: not DVC's YAML (tab indent or binary)")
        indent = len(raw) - len(raw.lstrip(" "))
        line = raw.strip()
        if line.startswith("- ") or line == "-":
            while stack and stack[-1][0] > indent:
                stack.pop()
            item = {}
            items.append((tuple(key for _, key in stack), item))
            item_indent, nested = indent + 2, []
            line = line[2:].strip()
            if not line:
                continue
            indent = item_indent
        if item is not None and indent >= item_indent:
            key, value = _key_value(line, number)
            while nested and nested[-1][0] >= indent:
                nested.pop()
            full = ".".join([*(k for _, k in nested), key])
            if value:
                item[full] = value
            else:
                nested.append((indent, key))
            continue
        item = None
        key, value = _key_value(line, number)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if not value:
            stack.append((indent, key))
    return items


def _key_value(line: str, number: int) -> tuple[str, str]:
    key, colon, value = line.partition(":")
    if not colon or not key.strip() or key.strip()[0] in "{[\"'":
        raise ValueError(f"line {number}: expected 'key: value', got {line[:60]!r}")
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return key.strip(), value


def dvc_state(start: Path, *, max_visited: int = MAX_VISITED) -> dict[str, Any] | None:
    """The DVC state of the repository around ``start``, or None when there is none."""
    root = _dvc_root(start)
    if root is None:
        return None
    warnings: list[str] = []
    files: dict[str, str] = {}
    top = str(root)
    if os.path.isfile(os.path.join(top, "dvc.lock")):
        for keys, entry in _items_of(os.path.join(top, "dvc.lock"), "dvc.lock", warnings, fast=False):
            if len(keys) >= 3 and keys[0] == "stages" and keys[-1] in ("outs", "deps"):
                _track(files, entry, "", f"dvc.lock stage {keys[1]!r}", warnings)
    for rel_dir, name in _dvc_files(top, max_visited, warnings):
        label = f"{rel_dir}{name}"
        outs = [entry for keys, entry in _items_of(os.path.join(top, label), label, warnings) if keys[:1] == ("outs",)]
        if not outs and not (warnings and warnings[-1].startswith(f"{label}: ")):
            warnings.append(f"{label}: no outs")
        for entry in outs:
            _track(files, entry, rel_dir, label, warnings)
        if len(files) >= MAX_TRACKED:
            warnings.append(f"more than {MAX_TRACKED} tracked paths: the rest is not recorded")
            break
    remotes, default = _remotes(root, warnings)
    state: dict[str, Any] = {"root": top, "files": files}
    if default is not None or remotes:
        state["remote"] = remotes.get(default or "", None)
        state["remotes"] = remotes
    if warnings:
        state["warnings"] = warnings
    return state


def _dvc_root(start: Path) -> Path | None:
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / ".dvc").is_dir():
            return folder
        if (folder / ".git").exists():
            break  # the top of the git repository: DVC lives there or not at all
    return here if (here / "dvc.lock").is_file() else None


_FAST_LINE = re.compile(r"^(?:- |  )([A-Za-z_][\w.]*): (\S[^\n]*)$", re.MULTILINE)


def _fast_outs(text: str) -> list[tuple[tuple[str, ...], dict[str, str]]] | None:
    """The usual ``dvc add`` file (``outs:`` then flat items) without the general reader; None otherwise."""
    if not text.startswith("outs:\n- ") or "\t" in text:
        return None
    body = text[6:]
    lines = body.count("\n") + (not body.endswith("\n"))
    found = _FAST_LINE.findall(body)
    if len(found) != lines or any(v[:1] in "'\"{[|>&*!" for _, v in found):
        return None
    items: list[tuple[tuple[str, ...], dict[str, str]]] = []
    for match in _FAST_LINE.finditer(body):
        if match.group(0).startswith("- "):
            items.append((("outs",), {}))
        items[-1][1][match.group(1)] = match.group(2)
    return items


def _items_of(
    path: str, label: str, warnings: list[str], *, fast: bool = True
) -> list[tuple[tuple[str, ...], dict[str, str]]]:
    try:
        fd = os.open(path, os.O_RDONLY)  # no buffered file object: thousands of small files
        try:
            raw = os.read(fd, MAX_DVC_FILE + 1)
        finally:
            os.close(fd)
        if len(raw) > MAX_DVC_FILE:
            raise ValueError(f"larger than {MAX_DVC_FILE} bytes")
        text = raw.decode("utf-8")
        quick = _fast_outs(text) if fast else None
        return quick if quick is not None else parse_dvc_yaml(text)
    except (OSError, UnicodeError, ValueError) as exc:
        warnings.append(f"{label}: cannot read it ({exc})")
        return []


def _track(files: dict[str, str], entry: Mapping[str, str], rel_dir: str, label: str, warnings: list[str]) -> None:
    path, md5 = entry.get("path"), entry.get("md5") or entry.get("checksum")
    if not path:
        warnings.append(f"{label}: an entry without path")
    elif not md5:
        if entry.get("repo.url") is None:  # an import's dependency has its rev, not an md5
            warnings.append(f"{label}: no md5 for {path!r}")
    else:
        files[posixpath.normpath(rel_dir + path)] = md5


def _dvc_files(top: str, max_visited: int, warnings: list[str]) -> Iterator[tuple[str, str]]:
    """(folder relative to ``top`` ending in ``/`` or empty, name) of every ``*.dvc`` file.

    Never enters what a ``.dvc`` file next to it tracks (a data folder can hold millions of files).
    """
    visited = 0
    folders = [""]
    while folders:
        rel = folders.pop()
        try:
            entries = list(os.scandir(os.path.join(top, rel) if rel else top))
        except OSError:
            continue
        visited += len(entries)
        if visited > max_visited:
            warnings.append(f"stopped looking for .dvc files after {max_visited} directory entries")
            return
        tracked: set[str] = set()
        subfolders = []
        for entry in entries:
            name = entry.name
            if name.endswith(".dvc") and entry.is_file(follow_symlinks=False):
                tracked.add(name[:-4])
                yield rel, name
            elif name not in _SKIP_DIRS and entry.is_dir(follow_symlinks=False):
                subfolders.append(name)
        folders.extend(f"{rel}{name}/" for name in subfolders if name not in tracked)


def _remotes(root: Path, warnings: list[str]) -> tuple[dict[str, str], str | None]:
    """DVC's remotes (``.dvc/config``, then ``config.local``) by name, URLs without credentials."""
    remotes: dict[str, str] = {}
    default: str | None = None
    for name in ("config", "config.local"):
        path = root / ".dvc" / name
        if not path.is_file():
            continue
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeError) as exc:
            warnings.append(f".dvc/{name}: cannot read it ({type(exc).__name__})")
            continue
        for section in parser.sections():
            match = _REMOTE_SECTION.match(section)
            if match and parser.has_option(section, "url"):
                remotes[match.group(1)] = redact_text(parser.get(section, "url"))
            elif section.strip("'\" ") == "core" and parser.has_option(section, "remote"):
                default = parser.get(section, "remote")
    return remotes, default


# ------------------------------------------------------------------ Git LFS


def lfs_pointer(path: Path) -> dict[str, Any] | None:
    """``{"oid": "sha256:…", "size": n}`` of a Git LFS pointer file, or None when it is not one."""
    try:
        with path.open("rb") as handle:
            head = handle.read(1024)
    except OSError:
        return None
    if not head.startswith(_LFS_HEADER):
        return None
    fields = dict(line.split(" ", 1) for line in head.decode("utf-8", "replace").splitlines() if " " in line)
    oid, size = fields.get("oid", ""), fields.get("size", "")
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", oid) or not size.isdigit():
        raise ValueError("a Git LFS pointer without a valid oid and size")
    return {"oid": oid, "size": int(size)}


def _lfs_files(candidates: Iterable[str], warnings: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    patterns: dict[Path, list[str]] = {}
    for text in candidates:
        path = Path(text)
        try:
            if not path.is_file():
                continue
            pointer = lfs_pointer(path)
            if pointer is None and _lfs_tracked(path, patterns) and path.stat().st_size <= MAX_HASHED:
                pointer = {"oid": f"sha256:{_sha256(path)}", "size": path.stat().st_size}  # checked out in full
        except (OSError, ValueError) as exc:
            warnings.append(f"{text}: {exc}")
            continue
        if pointer is not None:
            found[text] = pointer
    return found


def _lfs_tracked(path: Path, cache: dict[Path, list[str]]) -> bool:
    """Whether the repository's top ``.gitattributes`` sends this path through ``filter=lfs``."""
    here = path.resolve()
    for folder in here.parents:
        if (folder / ".git").exists():
            if folder not in cache:
                try:
                    lines = (folder / ".gitattributes").read_text(encoding="utf-8").splitlines()
                except (OSError, UnicodeError):
                    lines = []
                cache[folder] = [ln.split()[0] for ln in lines if "filter=lfs" in ln and ln.split()]
            rel = here.relative_to(folder).as_posix()
            return any(Path(rel).match(p) or Path(here.name).match(p) for p in cache[folder])
    return False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _strings(value: Any, out: list[str]) -> None:
    """String values of a config or ``data=`` argument (paths, maybe), depth first, bounded."""
    if len(out) >= MAX_CANDIDATES:
        return
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        if 0 < len(value) < 4096 and "\n" not in value and "://" not in value:
            out.append(value)
    elif isinstance(value, Mapping):
        for inner in value.values():
            _strings(inner, out)
    elif isinstance(value, list | tuple | set | frozenset):
        for inner in value:
            _strings(inner, out)


# ------------------------------------------------------------------ datasets


_ARTIFACT_REF = re.compile(r"^runwatch:(?:([^/:]+)/)?([^/:]+)(?::(v?\d+|[A-Za-z0-9_.-]+))?$")


def artifact_ref(uri: str) -> tuple[str | None, str, int | str] | None:
    """(project, name, version) of ``runwatch:[project/]name[:v3|:alias]``; None for any other URI."""
    match = _ARTIFACT_REF.match(uri)
    if match is None:
        return None
    project, name, ref = match.groups()
    if ref is None:
        return project, name, "latest"
    digits = ref.removeprefix("v")
    return project, name, int(digits) if digits.isdigit() else ref


def dataset_param(uri: str, name: str | None) -> str:
    """``dataset/<name>``: the given name, else the URI's last part (``s3://b/imagenet/`` → ``imagenet``)."""
    label = name or uri.rstrip("/").rsplit("/", 1)[-1] or uri
    return f"dataset/{label}"[:MAX_KEY_LENGTH]


def dataset_entry(path_or_uri: str, version: str | None) -> dict[str, Any]:
    """What ``run.use_dataset`` records: the URI, the version given, and what DVC or LFS know of it."""
    entry: dict[str, Any] = {"uri": path_or_uri}
    if version is not None:
        entry["version"] = version
    if "://" in path_or_uri:
        return entry
    path = Path(path_or_uri)
    try:
        sidecar = path.with_name(path.name + ".dvc")
        if sidecar.is_file():
            for keys, item in parse_dvc_yaml(sidecar.read_text(encoding="utf-8")):
                if keys[:1] == ("outs",) and item.get("md5"):
                    entry["dvc_md5"] = item["md5"]
                    break
        pointer = lfs_pointer(path) if path.is_file() else None
        if pointer is not None:
            entry["lfs"] = pointer
    except (OSError, UnicodeError, ValueError) as exc:
        logger.warning("runwatch: dataset %s: cannot read what DVC or LFS know of it (%s)", path_or_uri, exc)
        entry["warning"] = str(exc)[:200]
    return entry


# ------------------------------------------------------------------ the background collector


class Provenance:
    """Collects the data state on a daemon thread and emits it once as the ``runwatch/data`` param."""

    def __init__(self, config: Mapping[str, Any], data: Any, emit: Callable[[dict[str, Any]], None]) -> None:
        self._candidates: list[str] = []
        _strings(dict(config), self._candidates)
        _strings(data, self._candidates)
        self._emit = emit
        self._cwd = Path.cwd()
        script = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-m") else None
        self._script_dir = Path(script).resolve().parent if script and os.path.isfile(script) else None
        self._enabled = os.environ.get("RUNWATCH_DATA_VERSIONS", "1").strip().lower() not in ("0", "false", "no", "off")
        self.result: dict[str, Any] | None = None
        self._thread = threading.Thread(target=self._run, name="runwatch-provenance", daemon=True)

    @classmethod
    def start(cls, config: Mapping[str, Any], data: Any, emit: Callable[[dict[str, Any]], None]) -> Provenance:
        provenance = cls(config, data, emit)
        if provenance._enabled:  # RUNWATCH_DATA_VERSIONS=0 turns it off
            provenance._thread.start()
        return provenance

    def wait(self, timeout: float) -> bool:
        """Wait for the answer (``finish()`` does, so a short run still records it); False on timeout."""
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def collect(self) -> dict[str, Any]:
        warnings: list[str] = []
        result: dict[str, Any] = {}
        dvc = dvc_state(self._cwd)
        if dvc is None and self._script_dir is not None:  # started from elsewhere: the script's repository
            dvc = dvc_state(self._script_dir)
        if dvc is not None:
            warnings += dvc.pop("warnings", [])
            result["dvc"] = dvc
        lfs = _lfs_files(self._candidates, warnings)
        if lfs:
            result["lfs"] = lfs
        if warnings:
            result["warnings"] = warnings[:100]
            shown = "; ".join(warnings[:3]) + (f" (and {len(warnings) - 3} more)" if len(warnings) > 3 else "")
            logger.warning("runwatch: data versions recorded with %d problems: %s", len(warnings), shown)
        return result

    def _run(self) -> None:
        try:
            self.result = self.collect()
            if self.result:
                self._emit({PARAM: self.result})
        except Exception as exc:  # noqa: BLE001 - never into the training job: said once, the run goes on
            logger.warning("runwatch: could not record the data versions: %s", exc)
