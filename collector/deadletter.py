"""Dead letters: entries that could not be stored, kept with the reason, never silently dropped."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .store.base import DeadLetter

_RAW_KEEP = 64 << 10


def letter_for(stream: str, entry_id: str, fields: Mapping[bytes, bytes], reason: str, now: float) -> DeadLetter:
    """Describe a rejected entry; keeps the first 64 KiB of its body for inspection."""
    run = fields.get(b"run")
    body = fields.get(b"b") or b""
    size = sum(len(k) + len(v) for k, v in fields.items()) if fields else 0
    return DeadLetter(
        stream=stream,
        entry_id=entry_id,
        reason=reason,
        run_id=run.decode("utf-8", "replace")[:250] if isinstance(run, bytes) else None,
        size=size,
        raw=body[:_RAW_KEEP] if isinstance(body, bytes) else b"",
        received_at=now,
    )


def dead_letter_fields(letter: DeadLetter) -> dict[str, Any]:
    """The fields of the dead-letter stream entry for ``letter``."""
    return {
        "stream": letter.stream,
        "id": letter.entry_id,
        "reason": letter.reason,
        "run": letter.run_id or "",
        "size": letter.size,
        "at": letter.received_at,
        "raw": letter.raw[:4096],
    }


def describe(letter: DeadLetter) -> dict[str, Any]:
    """A JSON-safe view for the CLI and the API."""
    return {
        "stream": letter.stream,
        "entry_id": letter.entry_id,
        "reason": letter.reason,
        "run_id": letter.run_id,
        "size": letter.size,
        "received_at": letter.received_at,
        "raw_preview": json.dumps(letter.raw[:120].decode("latin-1")),
    }
