"""The API served for real: uvicorn in a thread, on a free port of 127.0.0.1."""

from __future__ import annotations

import threading
from typing import Any

import uvicorn

from collector.service import http_config
from tests.helpers import free_port, wait_for


class ServerThread:
    """uvicorn serving ``app`` from a thread, configured as the service configures it (``http_config``).

    ``timeout_graceful_shutdown=1`` there, so open websockets cannot hang the stop.

    >>> with ServerThread(app) as server:
    ...     httpx.get(server.url + "/healthz")
    """

    def __init__(self, app: Any, *, ws_max_size: int | None = None) -> None:
        self.app = app
        self.port = free_port()
        overrides = {} if ws_max_size is None else {"ws_max_size": ws_max_size}
        config = http_config(app, app.state.settings, host="127.0.0.1", port=self.port, **overrides)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/live"

    def start(self) -> ServerThread:
        self.thread.start()
        wait_for(lambda: self.server.started, timeout=15, what="uvicorn to start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
