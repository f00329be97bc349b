"""How a downloaded file is served: as an attachment, or inline only when its bytes are an image.

A browser must never render what a run uploaded as a page of this origin: every file is
``application/octet-stream`` with ``Content-Disposition: attachment``, except PNG, JPEG,
GIF and WebP whose first bytes are those formats' magic numbers (whatever their names
say). SVG and HTML are never inline: SVG can carry script.
"""

from __future__ import annotations

from urllib.parse import quote

SNIFF_BYTES = 16


def sniff_image(head: bytes) -> str | None:
    """The media type of a raster image from its first bytes, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def content_disposition(filename: str, *, inline: bool) -> str:
    """``attachment`` (or ``inline``) with an ASCII fallback name and the exact UTF-8 one (RFC 6266)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename) or "file"
    return (
        f"{'inline' if inline else 'attachment'}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
    )


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """An HTTP ``Range`` header as ``(start, end)`` inclusive; None to serve everything; False if unsatisfiable.

    One range only: a list of ranges, or a header that does not parse, is ignored (RFC 9110
    allows serving the whole representation then).
    """
    if not header or size == 0:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if not first:  # the last N bytes
            suffix = int(last)
            if suffix <= 0:
                return False
            return max(0, size - suffix), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size:
        return False
    if end < start:
        return None
    return start, min(end, size - 1)
