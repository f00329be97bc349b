"""The live websocket's wire protocol: what a client may send, and how cursors are spelled.

Messages are JSON text::

    → {"runs": ["9f2c..."], "keys": ["loss"], "cursor": {"0": "1700000000000-0"}, "token": "rw_..."}
      ({"project": "resnet"} instead of runs; {} for every run; token only when auth is on)
    ← {"type": "frame", "cursor": {"0": "...", "1": "..."}, "series": [{"run", "key", "steps", "values"}],
       "events": [{"kind": "status", "run", "status", ...}, ...], "heartbeats": [run ids],
       ("events" include {"kind": "rule_alert", "run", "rule", "state", "severity", "title",
        "metric", "value", "step", "episode", "seq", "subject", "run_name", ...} for alerts
        raised by the collector's rules)
       "coalesced": false, "gap": false}
    ← {"type": "keepalive", "cursor": {...}}   (when nothing was sent for a while)

The cursor has one more key than there are shards: the collector's alerts stream.
A client that reconnects sends the last ``cursor`` it received and gets exactly what it
missed (no gap, no duplicate); ``"gap": true`` means the streams were trimmed past it
and the client should reload over REST.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_RUNS_PER_CLIENT = 1000
MAX_MESSAGE_BYTES = 1 << 20  # the default of the max_ws_message_bytes setting
RULE_ALERT = "rule_alert"  # frame events for alerts the collector's rules raised (from the alerts stream)
COLLECTOR_WRITER = "runwatch-collector"  # the writer of those events (they have no emitter)

_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


@dataclass(frozen=True, slots=True)
class Subscription:
    """What a client wants: some runs, one project, or everything; optionally only some keys.

    >>> sub = Subscription.parse({"project": "resnet", "keys": ["loss"]})
    >>> sub.everything, sub.project, sub.keys
    (False, 'resnet', frozenset({'loss'}))
    """

    runs: frozenset[str] = frozenset()
    project: str | None = None
    keys: frozenset[str] | None = None

    @property
    def everything(self) -> bool:
        return not self.runs and self.project is None

    @classmethod
    def parse(cls, message: dict[str, Any]) -> Subscription:
        """The subscription a client message asks for; ``ValueError`` saying what is wrong."""
        runs = message.get("runs") or []
        keys = message.get("keys")
        project = message.get("project")
        if not isinstance(runs, list) or not all(isinstance(r, str) for r in runs) or len(runs) > MAX_RUNS_PER_CLIENT:
            raise ValueError(f"runs must be a list of at most {MAX_RUNS_PER_CLIENT} run ids")
        if project is not None and not isinstance(project, str):
            raise ValueError("project must be a string")
        if keys is not None and (not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)):
            raise ValueError("keys must be a list of metric keys")
        return cls(frozenset(runs), project, frozenset(keys) if keys else None)


def parse_cursor(raw: Any, shards: int) -> dict[int, str]:
    """A cursor a client sent back (``{"<shard>": "<stream id>"}``) as shard → id; ``ValueError`` if malformed."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("cursor must be the object received in a frame")
    cursor: dict[int, str] = {}
    for shard, entry_id in raw.items():
        if not (str(shard).isdigit() and int(shard) < shards and isinstance(entry_id, str) and _ID.match(entry_id)):
            raise ValueError(f"bad cursor item {str(shard)[:10]!r}")
        cursor[int(shard)] = entry_id
    return cursor


def cursor_json(cursor: dict[int, str]) -> dict[str, str]:
    """A cursor as frames spell it: shard numbers as string keys, in shard order."""
    return {str(shard): entry_id for shard, entry_id in sorted(cursor.items())}


class MessageTooLarge(ValueError):
    """A client message past the size cap (the session closes with 1009, "message too big")."""


def parse_message(text: str, max_bytes: int = MAX_MESSAGE_BYTES) -> dict[str, Any]:
    """One client message: a JSON object of at most ``max_bytes`` (UTF-8); ``ValueError`` otherwise."""
    if len(text) > max_bytes or len(text.encode()) > max_bytes:
        raise MessageTooLarge(f"messages are at most {max_bytes:,} bytes")
    try:
        message = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError("messages must be JSON objects") from None
    if not isinstance(message, dict):
        raise ValueError("messages must be JSON objects")
    return message
