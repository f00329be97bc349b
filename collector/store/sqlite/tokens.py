"""API tokens in the SQLite store: random secrets of which only the SHA-256 is kept."""

from __future__ import annotations

import secrets
from typing import Any

from ..base import ROLES, TokenInfo, hash_token
from ..format.rows import TOKEN_FIELDS
from .database import Database

_USE_RECORDED_EVERY = 60.0  # seconds: a busy token does not write on every request


class SQLiteTokens:
    """``base.TokenStore`` over the SQLite database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, role: str, name: str, now: float) -> tuple[int, str]:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        token = f"rw_{secrets.token_urlsafe(32)}"
        cursor = self._db.execute(
            "INSERT INTO api_tokens (name, role, hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)",
            (name, role, hash_token(token), token[:9], now),
        )
        return int(cursor.lastrowid or 0), token

    def verify(self, token: str, now: float) -> TokenInfo | None:
        rows = self._db.read(
            "SELECT id, role, name, last_used_at FROM api_tokens WHERE hash = ? AND revoked_at IS NULL",
            (hash_token(token),),
        )
        if not rows:
            return None
        token_id, role, name, used = rows[0]
        if used is None or now - used > _USE_RECORDED_EVERY:
            self._db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now, token_id))
        return TokenInfo(token_id, role, name)

    def list(self) -> list[dict[str, Any]]:
        rows = self._db.read(f"SELECT {', '.join(TOKEN_FIELDS)} FROM api_tokens ORDER BY id")
        return [dict(zip(TOKEN_FIELDS, row, strict=True)) for row in rows]

    def revoke(self, token_id: int, now: float) -> bool:
        cursor = self._db.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, token_id)
        )
        return cursor.rowcount > 0
