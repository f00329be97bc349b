"""``Run``: what training code holds. Validates at the call, stamps envelopes, hands off.

Only ``Run`` touches user input; the sender thread only moves already-valid events.
Programming errors (a string where a number belongs, an empty key) raise here, at the
call. Transport problems never do.
"""

from __future__ import annotations

import atexit
import datetime as _dt
import hashlib
import itertools
import operator
import os
import secrets
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import msgpack

from ._sender import Sender
from ._spool import Spool
from .capture import capture_environment
from .events import (
    DEFAULT_PREFIX,
    DEFAULT_SHARDS,
    MAX_KEY_LENGTH,
    MAX_KEYS_PER_RUN,
    MAX_PAYLOAD_BYTES,
    Keys,
    Kind,
    RunStatus,
)

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ADJECTIVES = [
    "amber",
    "azure",
    "bold",
    "brave",
    "calm",
    "clever",
    "cosmic",
    "crisp",
    "dapper",
    "eager",
    "fancy",
    "gentle",
    "glad",
    "golden",
    "happy",
    "hazy",
    "icy",
    "jolly",
    "keen",
    "lively",
    "lucid",
    "lunar",
    "mellow",
    "misty",
    "noble",
    "polar",
    "proud",
    "quiet",
    "rapid",
    "royal",
    "rustic",
    "shiny",
    "silent",
    "sleek",
    "snowy",
    "solar",
    "spry",
    "steady",
    "sunny",
    "swift",
    "tidy",
    "vivid",
    "warm",
    "wild",
    "witty",
    "zesty",
]
_NOUNS = [
    "badger",
    "bison",
    "cedar",
    "comet",
    "crane",
    "delta",
    "dune",
    "eagle",
    "ember",
    "falcon",
    "fern",
    "fjord",
    "gecko",
    "glacier",
    "harbor",
    "hawk",
    "heron",
    "island",
    "jaguar",
    "koala",
    "lark",
    "lotus",
    "lynx",
    "maple",
    "meadow",
    "moose",
    "nebula",
    "otter",
    "owl",
    "panda",
    "pebble",
    "quartz",
    "raven",
    "reef",
    "river",
    "robin",
    "sparrow",
    "spruce",
    "summit",
    "thunder",
    "tiger",
    "tundra",
    "violet",
    "walrus",
    "willow",
    "wolf",
    "yak",
    "zephyr",
]


def new_run_id() -> str:
    """A unique, time-sortable id: 48-bit milliseconds then 80 random bits, Crockford base32 (a ULID)."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def generate_name(project: str, today: _dt.date | None = None) -> str:
    """``<project>_<YYYY-MM-DD>_<short-slug>``, e.g. ``cifar_2026-11-26_swift-otter``."""
    day = (today or _dt.date.today()).isoformat()
    return f"{project}_{day}_{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}"


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


class Run:
    """One training run: log metrics, params, tags, notes and alerts to runwatch.

    >>> import emitter
    >>> with emitter.init(project="resnet", config={"lr": 3e-4}) as run:
    ...     for step in range(100):
    ...         run.log({"loss": 1 / (step + 1), "acc": step / 100}, step=step)

    ``log()`` only appends to an in-memory queue: it never waits on the network and
    never raises for a transport failure. An exception inside ``with`` marks the run
    ``failed`` with its traceback; SIGTERM marks it ``killed``; a normal exit without
    ``finish()`` marks it ``finished``.
    """

    def __init__(
        self,
        project: str,
        name: str | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        tags: Iterable[str] | None = None,
        notes: str | None = None,
        group: str | None = None,
        run_id: str | None = None,
        redis_url: str | None = None,
        home: str | os.PathLike[str] | None = None,
        max_keys: int | None = None,
        heartbeat_interval: float | None = None,
        max_queue: int | None = None,
    ) -> None:
        if not isinstance(project, str) or not project.strip():
            raise ValueError("project must be a non-empty string")
        if run_id is not None and (not isinstance(run_id, str) or not run_id or len(run_id) > MAX_KEY_LENGTH):
            raise ValueError(f"run_id must be a non-empty string of at most {MAX_KEY_LENGTH} characters")
        self.project = project
        self.resumed = run_id is not None
        self.id = run_id or new_run_id()
        self.name = name or generate_name(project)
        self.writer = secrets.token_hex(8)
        self.finished = False
        self._max_keys = max_keys if max_keys is not None else _env_int("RUNWATCH_MAX_KEYS", MAX_KEYS_PER_RUN)
        self._keys: set[str] = set()
        self._seq = itertools.count()
        self._next_step = 0
        self._owner_pid = os.getpid()
        self._finish_lock = threading.Lock()
        self.home = Path(home or os.environ.get("RUNWATCH_HOME") or ".runwatch")
        self.redis_url = redis_url or os.environ.get("RUNWATCH_REDIS_URL") or DEFAULT_REDIS_URL
        keys = Keys(os.environ.get("RUNWATCH_PREFIX") or DEFAULT_PREFIX)
        start_payload = {
            "project": project,
            "name": self.name,
            "group": _optional_str("group", group),
            "tags": _tag_list(tags or ()),
            "notes": _bounded_text("notes", notes or ""),
            "config": _bounded_mapping("config", config or {}),
            "env": capture_environment(),
            "resumed": self.resumed,
            "name_given": name is not None,
        }
        self._sender = Sender(
            run_id=self.id,
            writer=self.writer,
            redis_url=self.redis_url,
            keys=keys,
            shards=_env_int("RUNWATCH_SHARDS", DEFAULT_SHARDS),
            spool=Spool(self.home / "spool"),
            max_queue=max_queue if max_queue is not None else _env_int("RUNWATCH_MAX_QUEUE", 10_000),
            heartbeat=self._heartbeat,
            heartbeat_interval=(
                heartbeat_interval
                if heartbeat_interval is not None
                else _env_float("RUNWATCH_HEARTBEAT_INTERVAL", 10.0)
            ),
        )
        self._emit(Kind.RUN_START, start_payload)
        self._emit(Kind.STATUS, {"status": RunStatus.RUNNING.value})
        self._sender.start()

    def __repr__(self) -> str:
        return f"<Run id={self.id} name={self.name!r} project={self.project!r} {self._sender!r}>"

    # ----------------------------------------------------------------- logging

    def log(self, values: Mapping[str, float], step: int | None = None) -> None:
        """Record metric values at ``step`` (auto-incremented when omitted)."""
        if step is None:
            step = self._next_step
        elif type(step) is not int:
            step = _as_step(step)
        self._next_step = step + 1
        clean: dict[str, float] = {}
        known = self._keys
        try:
            items = values.items()
        except AttributeError:
            raise TypeError(f"log() takes a mapping of metric name to number, got {type(values).__name__}") from None
        for key, value in items:
            if key not in known:
                self._admit_key(key)
            if type(value) is float:
                clean[key] = value
            else:
                clean[key] = _to_float(key, value)
        if not clean:
            raise ValueError("log() needs at least one metric value")
        self._emit(Kind.METRICS, {"step": step, "values": clean})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record hyperparameters (searchable as ``params.<name>``)."""
        self._emit(Kind.PARAMS, {"params": _bounded_mapping("params", params)})

    def set_tags(self, *tags: str) -> None:
        """Add tags to the run."""
        self._emit(Kind.TAGS, {"tags": _tag_list(tags)})

    def note(self, text: str) -> None:
        """Attach a free-text note."""
        self._emit(Kind.NOTE, {"text": _bounded_text("note", text)})

    def alert(self, title: str, text: str = "", level: str = "warn") -> None:
        """Raise an alert from training code (delivered by the ``user_alert`` rules)."""
        if level not in ("info", "warn", "error", "critical"):
            raise ValueError(f"alert level must be one of info, warn, error, critical, got {level!r}")
        self._emit(
            Kind.ALERT, {"title": _bounded_text("title", title), "text": _bounded_text("text", text), "level": level}
        )

    def log_artifact(self, path_or_uri: str | os.PathLike[str], name: str | None = None) -> None:
        """Record an artifact's metadata (a local file gets its size and sha256)."""
        path = Path(path_or_uri)
        size: int | None = None
        digest: str | None = None
        if path.is_file():
            size = path.stat().st_size
            sha = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    sha.update(block)
            digest = sha.hexdigest()
            uri = path.resolve().as_uri()
        else:
            uri = str(path_or_uri)
        self._emit(Kind.ARTIFACT, {"name": name or path.name, "uri": uri, "size": size, "sha256": digest})

    # --------------------------------------------------------------- lifecycle

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything logged so far was handed to Redis; False on timeout."""
        return self._sender.flush(timeout)

    def finish(self, status: str = "finished", *, exit_code: int | None = None, traceback: str | None = None) -> None:
        """Mark the run ended and drain the sender (what Redis cannot take is spooled)."""
        if status not in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED):
            raise ValueError(f"status must be finished, failed or killed, got {status!r}")
        if os.getpid() != self._owner_pid:
            return  # a forked worker never ends the parent's run
        with self._finish_lock:
            if self.finished:
                return
            self.finished = True
            payload: dict[str, Any] = {"status": status}
            if exit_code is not None:
                payload["exit_code"] = exit_code
            if traceback:
                payload["traceback"] = traceback[-MAX_PAYLOAD_BYTES // 4 :]
            self._emit(Kind.STATUS, payload)
            self._sender.close(timeout=_env_float("RUNWATCH_FLUSH_TIMEOUT", 30.0))
        _forget(self)

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.finish()
        elif isinstance(exc, KeyboardInterrupt):
            self.finish("killed", traceback="".join(traceback_lines(exc_type, exc, tb)))
        else:
            self.finish("failed", traceback="".join(traceback_lines(exc_type, exc, tb)))

    # ----------------------------------------------------------------- internals

    def _emit(self, kind: str, payload: dict[str, Any]) -> None:
        if self.finished and kind != Kind.STATUS:
            raise RuntimeError(f"run {self.id} is finished; start a new one with emitter.init()")
        self._sender.put([next(self._seq), time.time(), kind, payload])

    def _heartbeat(self) -> None:
        if not self.finished:  # spool figures feed the exporter's replay counters
            sender = self._sender
            self._emit(Kind.HEARTBEAT, {"spilled": sender.spilled_entries, "replayed": sender.replayed_entries})

    def _admit_key(self, key: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"metric names must be strings, got {type(key).__name__}: {key!r:.60}")
        if not key:
            raise ValueError("metric names must not be empty")
        if len(key) > MAX_KEY_LENGTH:
            raise ValueError(f"metric name {key[:40]!r}... is {len(key)} characters; the limit is {MAX_KEY_LENGTH}")
        if len(self._keys) >= self._max_keys:
            raise ValueError(
                f"run {self.id} already has {len(self._keys)} distinct metric names, the limit "
                f"(RUNWATCH_MAX_KEYS={self._max_keys}); {key[:60]!r} was not logged"
            )
        self._keys.add(key)

    def _after_fork_in_child(self) -> None:
        """A forked child (e.g. a DataLoader worker) logs as a new writer of the same run."""
        self.writer = secrets.token_hex(8)
        self._seq = itertools.count()
        self._sender.after_fork_in_child()
        self._sender.writer = self.writer


def traceback_lines(
    exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
) -> list[str]:
    return traceback.format_exception(exc_type, exc, tb) if exc_type else []


def _as_step(step: Any) -> int:
    try:
        return operator.index(step)
    except TypeError:
        raise TypeError(f"step must be an integer, got {type(step).__name__}: {step!r:.60}") from None


def _to_float(key: str, value: Any) -> float:
    if isinstance(value, (str, bytes, bytearray)) or value is None:
        raise TypeError(f"metric {key!r}: {type(value).__name__} {value!r:.60} is not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"metric {key!r}: {type(value).__name__} {value!r:.60} is not a number") from None


def _optional_str(field: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a string, got {type(value).__name__}")
    return value


def _tag_list(tags: Iterable[str]) -> list[str]:
    if isinstance(tags, str):
        tags = [tags]
    out = []
    for tag in tags:
        if not isinstance(tag, str) or not tag or len(tag) > MAX_KEY_LENGTH:
            raise ValueError(f"tags must be non-empty strings of at most {MAX_KEY_LENGTH} characters, got {tag!r:.60}")
        out.append(tag)
    return out


def _bounded_text(field: str, text: Any) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{field} must be a string, got {type(text).__name__}")
    if len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"{field} is {len(text.encode())} bytes; the limit is {MAX_PAYLOAD_BYTES} (1 MiB)")
    return text


def _plain(value: Any, depth: int = 0) -> Any:
    """Config values as MessagePack-safe plain data (numpy scalars → numbers, other objects → str)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if depth > 32:
        raise ValueError("config is nested more than 32 levels deep")
    if isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v, depth + 1) for v in value]
    item = getattr(value, "item", None)
    if callable(item):
        try:
            plain = item()
        except (TypeError, ValueError):
            plain = None
        if isinstance(plain, (bool, int, float, str)):
            return plain
    return str(value)


def _bounded_mapping(field: str, mapping: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{field} must be a mapping, got {type(mapping).__name__}")
    plain = _plain(mapping)
    size = len(msgpack.packb(plain, use_bin_type=True))
    if size > MAX_PAYLOAD_BYTES:
        raise ValueError(f"{field} is {size} bytes encoded; the limit is {MAX_PAYLOAD_BYTES} (1 MiB)")
    for key in plain:
        if not key or len(key) > MAX_KEY_LENGTH:
            raise ValueError(f"{field} keys must be non-empty and at most {MAX_KEY_LENGTH} characters: {key[:40]!r}")
    return plain  # type: ignore[no-any-return]


# ------------------------------------------------------- the current run and its hooks

_current: Run | None = None
_hooks_installed = False
_previous_sigterm: Any = None
_previous_excepthook = sys.excepthook


def current() -> Run | None:
    return _current


def set_current(run: Run) -> None:
    global _current
    _current = run
    _install_hooks()


def _forget(run: Run) -> None:
    global _current
    if _current is run:
        _current = None


def _install_hooks() -> None:
    """Registered on the first init(), never at import: atexit, SIGTERM, excepthook, fork."""
    global _hooks_installed, _previous_sigterm, _previous_excepthook
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_at_exit)
    _previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    os.register_at_fork(after_in_child=_after_fork_in_child)
    from multiprocessing import util as multiprocessing_util

    # the registry holds its key object weakly: the (module-level) function itself serves
    multiprocessing_util.register_after_fork(_drain_before_os_exit, _drain_before_os_exit)
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGTERM)
        if previous in (signal.SIG_DFL, None) or callable(previous):
            _previous_sigterm = previous
            signal.signal(signal.SIGTERM, _on_sigterm)


def _at_exit() -> None:
    run = _current
    if run is not None and not run.finished:
        run.finish("finished", exit_code=0)


def _excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    run = _current
    if run is not None and not run.finished:
        status = "killed" if issubclass(exc_type, KeyboardInterrupt) else "failed"
        try:
            run.finish(status, exit_code=1, traceback="".join(traceback_lines(exc_type, exc, tb)))
        except Exception:  # noqa: BLE001 - never mask the user's exception
            pass
    _previous_excepthook(exc_type, exc, tb)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    run = _current
    if run is not None and not run.finished:
        run.finish("killed", exit_code=128 + signum)
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _after_fork_in_child() -> None:
    run = _current
    if run is not None and not run.finished:
        run._after_fork_in_child()
        _restart_sender_lazily(run)


def _restart_sender_lazily(run: Run) -> None:
    """In a forked child, start a fresh sender thread for the new writer."""
    from ._sender import State

    sender = run._sender
    sender._state = State.ACTIVE
    sender._adopt_spool = False
    sender._heartbeat = None  # the parent heartbeats for the run
    sender.start()
    atexit.register(_drain, sender)


def _drain(sender: Any) -> None:
    sender.close(timeout=_env_float("RUNWATCH_FLUSH_TIMEOUT", 30.0))


def _drain_before_os_exit(_: object) -> None:
    """In a multiprocessing child: drain the sender in multiprocessing's own exit finalizers.

    DataLoader and Pool workers leave through os._exit(), which skips atexit. This runs
    (only in such a child) after multiprocessing has reset its finalizers, so the one added
    here stays.
    """
    run = _current
    if run is not None and not run.finished:
        from multiprocessing.util import Finalize

        Finalize(None, _drain, args=(run._sender,), exitpriority=100)
