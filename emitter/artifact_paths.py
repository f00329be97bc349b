"""The contract's rules for artifact names, file paths, types and aliases, stated once.

The emitter applies them at the call (``ValueError``), the API to every upload and
download path (400), the collector to every ``artifact`` event (a rejection with the
reason). A path is relative, ``/``-separated, NFC-normalised, and none of its segments
is empty, ``.`` or ``..``. Refused outright, because some layer might turn them into a
traversal: NUL and every other control or format character, ``\\``, a drive letter,
percent-encoded bytes (``%2e%2e`` after one decoding), and Unicode look-alikes of ``.``,
``/`` and ``\\`` (fullwidth dots, one-dot leaders, division slashes).

>>> clean_path("checkpoints/epoch-3/model.pt")
'checkpoints/epoch-3/model.pt'
>>> clean_path("../etc/passwd")
Traceback (most recent call last):
ValueError: path segment '..' is not allowed
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

MAX_PATH_CHARS = 1024
MAX_SEGMENT_BYTES = 255
MAX_NAME_CHARS = 128
MAX_TYPE_CHARS = 64
MAX_ALIASES = 32
MAX_FILES = 10_000
ROLES = ("output", "input")

_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_DRIVE = re.compile(r"^[A-Za-z]:")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_VERSION_LIKE = re.compile(r"^v?[0-9]+$")
# Look-alikes that NFKC leaves alone: slashes and backslashes of other scripts and blocks.
_LOOKALIKES = frozenset("\u2044\u2215\u2216\u29f5\u29f8\u29f9\ufe68\u3033\u3035\u2024\u2025\u2026")


def _unsafe_char(char: str) -> str | None:
    """Why one character may not appear in a path, or None."""
    if char == "\\":
        return "backslash"
    if char == "\ufffd":
        return "replacement character (the bytes were not valid UTF-8)"
    category = unicodedata.category(char)
    if category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
        return f"control or format character U+{ord(char):04X}"
    if ord(char) > 127 and (char in _LOOKALIKES or any(c in "./\\%" for c in unicodedata.normalize("NFKC", char))):
        return f"look-alike of '.', '/', '\\' or '%' (U+{ord(char):04X})"
    return None


def clean_path(raw: object, *, what: str = "path", max_chars: int = MAX_PATH_CHARS) -> str:
    """``raw`` as a safe relative path (NFC), or ``ValueError`` saying what is wrong with it."""
    if not isinstance(raw, str):
        raise ValueError(f"{what} must be a string, got {type(raw).__name__}")
    if not raw:
        raise ValueError(f"{what} is empty")
    for char in raw:
        problem = _unsafe_char(char)
        if problem:
            raise ValueError(f"{what} contains a {problem}")
    path = unicodedata.normalize("NFC", raw)
    if len(path) > max_chars:
        raise ValueError(f"{what} is longer than {max_chars} characters")
    encoded = _PERCENT.search(path)
    if encoded:
        raise ValueError(f"{what} contains a percent-encoded byte ({encoded.group()})")
    if path.startswith("/"):
        raise ValueError(f"{what} must be relative, not absolute")
    if _DRIVE.match(path):
        raise ValueError(f"{what} must not start with a drive letter")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise ValueError(
                f"{what} segment {segment!r} is not allowed" if segment else f"{what} has an empty segment"
            )
        if len(segment.encode()) > MAX_SEGMENT_BYTES:
            raise ValueError(f"{what} segment longer than {MAX_SEGMENT_BYTES} bytes")
    return path


def clean_name(raw: object) -> str:
    """An artifact name: a path (it may hold ``/``, like metric keys) of at most 128 characters."""
    return clean_path(raw, what="artifact name", max_chars=MAX_NAME_CHARS)


def clean_type(raw: object) -> str:
    """An artifact type such as ``model``, ``dataset``, ``image``: letters, digits, ``_ . -``."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_TYPE_CHARS or not _TYPE.match(raw):
        raise ValueError(f"artifact type must be 1-{MAX_TYPE_CHARS} letters, digits, '_', '.', '-', got {raw!r}")
    return raw


def clean_alias(raw: object) -> str:
    """An alias such as ``best`` or ``prod``; never ``latest`` or a version number (those are looked up anyway)."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_NAME_CHARS or not _TYPE.match(raw):
        raise ValueError(f"alias must be 1-{MAX_NAME_CHARS} letters, digits, '_', '.', '-', got {raw!r}")
    if raw == "latest" or _VERSION_LIKE.match(raw):
        raise ValueError(f"alias {raw!r} is reserved: 'latest' and version numbers are resolved without aliases")
    return raw


def is_sha256(value: object) -> bool:
    """A lowercase hex SHA-256 digest."""
    return isinstance(value, str) and _SHA256.match(value) is not None


def parse_version_ref(ref: str) -> int | None:
    """``"3"`` or ``"v3"`` as 3; None for ``latest`` or an alias."""
    return int(ref.lstrip("v")) if _VERSION_LIKE.match(ref) else None


def manifest_digest(files: Iterable[tuple[str, str, int]]) -> str:
    """An artifact's digest: one file's sha256, or for several the sha256 of ``path\\0sha256\\0size\\n`` lines, sorted."""
    entries = sorted(files)
    if len(entries) == 1:
        return entries[0][1]
    lines = "".join(f"{path}\0{sha}\0{size}\n" for path, sha, size in entries)
    return hashlib.sha256(lines.encode()).hexdigest()
