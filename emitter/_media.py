"""Images for ``run.log_image``: a path, PNG/JPEG/GIF/WebP bytes, a PIL image, an array or a figure.

Each kind is recognised by what it can do, and its library imported only when it is
the one given; none is a dependency. NumPy arrays (``uint8``, or floats in [0, 1];
HxW, HxWx1, HxWx3, HxWx4) are encoded as PNG here, with ``zlib`` only.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path
from typing import Any

_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "png",
    b"\xff\xd8\xff": "jpg",
    b"GIF87a": "gif",
    b"GIF89a": "gif",
}
_COLOR_TYPES = {1: 0, 3: 2, 4: 6}  # channels → PNG colour type (grey, RGB, RGBA)


def image_kind(data: bytes) -> str | None:
    """The file extension of encoded image bytes, from their magic number."""
    for magic, ext in _MAGIC.items():
        if data.startswith(magic):
            return ext
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def encode_image(image: Any) -> tuple[Path | bytes, str]:
    """``(a file to snapshot, or encoded bytes; extension)``, or ``TypeError``/``ValueError`` naming the problem."""
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"log_image: no such file: {path}")
        return path, path.suffix.lstrip(".").lower() or "img"
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        kind = image_kind(data)
        if kind is None:
            raise ValueError("log_image: bytes must be an encoded PNG, JPEG, GIF or WebP image")
        return data, kind
    if hasattr(image, "savefig"):  # a matplotlib figure
        buffer = io.BytesIO()
        image.savefig(buffer, format="png")
        return buffer.getvalue(), "png"
    if hasattr(image, "save") and hasattr(image, "mode") and hasattr(image, "size"):  # a PIL image
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue(), "png"
    if hasattr(image, "__array_interface__") or hasattr(image, "__array__"):
        return png_from_array(image), "png"
    raise TypeError(
        "log_image takes a path, image bytes, a PIL image, a NumPy array or a matplotlib figure, "
        f"got {type(image).__name__}"
    )


def png_from_array(array: Any) -> bytes:
    """A PNG of an HxW, HxWx1, HxWx3 or HxWx4 array of ``uint8`` (or floats in [0, 1], or bools)."""
    import numpy as np  # the caller gave an array, so NumPy is there

    pixels = np.asarray(array)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (3, 4)) or 0 in pixels.shape:
        raise ValueError(f"log_image: an array must be HxW, HxWx1, HxWx3 or HxWx4, got shape {pixels.shape}")
    if pixels.dtype == np.bool_:
        pixels = pixels.astype(np.uint8) * 255
    elif pixels.dtype.kind == "f":
        pixels = (np.clip(np.nan_to_num(pixels), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif pixels.dtype != np.uint8:
        if pixels.dtype.kind not in "iu" or pixels.min() < 0 or pixels.max() > 255:
            raise ValueError(f"log_image: integer pixels must be within 0-255 (dtype {pixels.dtype})")
        pixels = pixels.astype(np.uint8)
    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    rows = np.ascontiguousarray(pixels).reshape(height, width * channels)
    raw = np.hstack([np.zeros((height, 1), dtype=np.uint8), rows]).tobytes()  # filter type 0 per row
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPES[channels], 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
