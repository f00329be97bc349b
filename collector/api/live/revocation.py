"""``TokenWatch``: the tokens of open websockets are verified again, so revoking one closes its sockets.

A websocket is authenticated once, when it opens; without this a revoked token would keep
streaming for as long as its socket stays open. Every ``interval`` (0.5 s) the watch verifies
each distinct token of the open sockets once, all in one trip to a worker thread (one indexed
read per token). ``changed()`` checks at once: ``DELETE /api/v1/tokens/{id}`` calls it, so a
revocation through this process closes the sockets in milliseconds, and one made elsewhere
(another API replica, ``runwatch token revoke``) at the next periodic check.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)


class TokenWatch:
    """Calls a socket's ``on_revoked`` once its token no longer verifies.

    >>> watch = TokenWatch(lambda token: store.tokens.verify(token, time.time()) is not None)
    >>> unwatch = watch.watch(token, on_revoked)     # a session, once authenticated (in the event loop)
    >>> watch.changed()                              # a token was revoked: check now (any thread)
    >>> unwatch()                                    # the socket closed
    """

    def __init__(self, verify: Callable[[str], bool], *, interval: float = 0.5) -> None:
        self.verify = verify
        self.interval = interval
        self._sockets: dict[str, dict[int, Callable[[], None]]] = {}  # token -> {socket: on_revoked}
        self._ids = itertools.count()
        self._changed: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.checks = 0
        self.revoked = 0

    def __repr__(self) -> str:
        return f"<TokenWatch sockets={self.watching} tokens={len(self._sockets)} checks={self.checks} revoked={self.revoked}>"

    @property
    def watching(self) -> int:
        """How many open sockets are watched."""
        return sum(len(sockets) for sockets in self._sockets.values())

    def watch(self, token: str, on_revoked: Callable[[], None]) -> Callable[[], None]:
        """Watch one socket's token; returns the function that stops watching it."""
        socket_id = next(self._ids)
        self._sockets.setdefault(token, {})[socket_id] = on_revoked
        self._start()

        def unwatch() -> None:
            sockets = self._sockets.get(token)
            if sockets is not None:
                sockets.pop(socket_id, None)
                if not sockets:
                    del self._sockets[token]

        return unwatch

    def changed(self) -> None:
        """A token was revoked: check now rather than at the next tick. Safe from any thread."""
        loop, changed = self._loop, self._changed
        if loop is not None and changed is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(changed.set)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._loop = asyncio.get_running_loop()
            self._changed = asyncio.Event()
            self._task = self._loop.create_task(self._check_forever(self._changed), name="runwatch-token-watch")

    async def _check_forever(self, changed: asyncio.Event) -> None:
        while self._sockets:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), self.interval)
            changed.clear()
            tokens = list(self._sockets)
            try:
                revoked = await asyncio.to_thread(self._revoked, tokens)
            except Exception as exc:  # noqa: BLE001 - the store is away: keep the sockets, check again
                logger.warning("live: could not verify the tokens of open websockets (%s); retrying", exc)
                continue
            self.checks += 1
            for token in revoked:
                for on_revoked in self._sockets.pop(token, {}).values():
                    self.revoked += 1
                    on_revoked()
        self._task = None  # nothing left to watch; the next watch() starts again

    def _revoked(self, tokens: list[str]) -> list[str]:
        return [token for token in tokens if not self.verify(token)]
