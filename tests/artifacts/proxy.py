"""A TCP proxy that can hold an upload mid-way, so a test can kill the server at a known point.

Client → server bytes are counted over all connections; once ``hold_after`` have been
forwarded, forwarding stops (``held`` is set) until ``release()``, which drops the held
connections and lets every later one through untouched.
"""

from __future__ import annotations

import socket
import threading

from tests.helpers import free_port


class HoldingProxy:
    def __init__(self, upstream_port: int, hold_after: int) -> None:
        self.port = free_port()
        self._upstream = upstream_port
        self._hold_after = hold_after
        self._forwarded = 0
        self._lock = threading.Lock()
        self.held = threading.Event()
        self._released = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def release(self) -> None:
        """Drop the connections that were held; later ones pass untouched."""
        self._hold_after = None  # type: ignore[assignment]
        self._released.set()

    def close(self) -> None:
        self._closed = True
        self._released.set()
        self._listener.close()
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self._upstream))
            except OSError:
                client.close()
                continue
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, upload: bool) -> None:
        holding = False
        try:
            while True:
                data = source.recv(1 << 16)
                if not data:
                    break
                if upload and self._hold_after is not None:
                    with self._lock:
                        room = self._hold_after - self._forwarded
                        self._forwarded += min(room, len(data))
                    if room <= len(data):
                        target.sendall(data[: max(room, 0)])
                        holding = True
                        self.held.set()
                        self._released.wait()
                        break  # the held connection is dropped
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR) if holding else None
                    sock.close()
                except OSError:
                    pass
