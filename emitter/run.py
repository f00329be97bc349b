"""``Run``: what training code holds. Validates at the call, stamps envelopes, hands off.

Only ``Run`` touches user input; the sender thread only moves already-valid events.
Programming errors (a string where a number belongs, an empty key) raise here, at the
call. Transport problems never do.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from . import _hooks
from ._artifacts import ArtifactHandle, Artifacts
from ._names import generate_name, new_run_id, new_writer_id
from ._orchestrators import orchestrator_info, orchestrator_tags
from ._provenance import Provenance, artifact_ref, dataset_entry, dataset_param
from ._redis_url import DEFAULT_REDIS_URL, resolve_redis_url
from ._sender import Sender
from ._spool import Spool
from ._validate import (
    DroppedValues,
    admit_key,
    alert_level,
    as_step,
    bounded_mapping,
    bounded_text,
    check_project,
    check_run_id,
    ended_status,
    nested_name,
    optional_str,
    tag_list,
    to_float,
)
from .capture import capture_environment
from .events import DEFAULT_PREFIX, DEFAULT_SHARDS, MAX_KEYS_PER_RUN, MAX_PAYLOAD_BYTES, Keys, Kind, RunStatus

__all__ = ["DEFAULT_REDIS_URL", "Run", "generate_name", "new_run_id"]


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _flush_timeout() -> float:
    """How long ending a run (or leaving a forked child) waits for Redis before spooling the rest."""
    return _env_float("RUNWATCH_FLUSH_TIMEOUT", 30.0)


_PROVENANCE_WAIT = 3.0  # seconds finish() waits for the data versions (see _provenance)


class Run:
    """One training run: log metrics, params, tags, notes and alerts to runwatch.

    >>> import emitter
    >>> with emitter.init(project="resnet", config={"lr": 3e-4}) as run:
    ...     for step in range(100):
    ...         run.log({"loss": 1 / (step + 1), "acc": step / 100}, step=step)

    ``log()`` only appends to an in-memory queue: it never waits on the network and
    never raises for a transport failure. An exception inside ``with`` marks the run
    ``failed`` with its traceback; SIGTERM marks it ``killed``; a normal exit without
    ``finish()`` marks it ``finished``; ``sys.exit(n)`` records ``n`` (0 finished, else failed).
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
        strict: bool | None = None,
        data: Any = None,
    ) -> None:
        self.project = check_project(project)
        run_id = check_run_id(run_id)
        self.resumed = run_id is not None
        self.id = run_id or new_run_id()
        self.name = name or generate_name(project)
        self.writer = new_writer_id()
        self.finished = False
        self._max_keys = max_keys if max_keys is not None else _env_int("RUNWATCH_MAX_KEYS", MAX_KEYS_PER_RUN)
        self._keys: set[str] = set()
        self._strict = strict if strict is not None else _env_flag("RUNWATCH_STRICT")
        self._dropped = DroppedValues(self.name)
        self._next_step = 0
        self._owner_pid = os.getpid()
        self._finish_lock = threading.Lock()
        self.home = Path(home or os.environ.get("RUNWATCH_HOME") or ".runwatch")
        self.redis_url = resolve_redis_url(redis_url, self.home)
        keys = Keys(os.environ.get("RUNWATCH_PREFIX") or DEFAULT_PREFIX)
        origin = orchestrator_info(os.environ)  # Airflow, Kubernetes, Luigi, SLURM: as tags
        start_payload = {
            "project": project,
            "name": self.name,
            "group": optional_str("group", group),
            "tags": list(dict.fromkeys([*tag_list(tags or ()), *orchestrator_tags(origin)])),
            "notes": bounded_text("notes", notes or ""),
            "config": bounded_mapping("config", config or {}),
            "env": {**capture_environment(), **({"orchestrator": origin} if origin else {})},
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
        self._artifacts = Artifacts(
            run_id=self.id,
            project=self.project,
            home=self.home,
            redis_url=self.redis_url,
            keys=keys,
            shards=_env_int("RUNWATCH_SHARDS", DEFAULT_SHARDS),
            emit=self._emit,
        )
        self._emit(Kind.RUN_START, start_payload)
        self._emit(Kind.STATUS, {"status": RunStatus.RUNNING.value})
        self._sender.start()
        self._provenance = Provenance.start(config or {}, data, self.log_params)  # DVC, LFS: on its own thread

    def __repr__(self) -> str:
        return f"<Run id={self.id} name={self.name!r} project={self.project!r} {self._sender!r}>"

    # ----------------------------------------------------------------- logging

    def log(self, values: Mapping[str, Any], step: int | None = None) -> None:
        """Record metric values at ``step`` (auto-incremented when omitted).

        Numbers, bools, NumPy/torch/JAX scalars and one-element arrays; nested mappings log as
        ``outer/inner``. Anything else (text, None, arrays of several values, bad keys) is
        dropped with one warning per key and counted in the run's params
        (``runwatch/dropped_values``); ``RUNWATCH_STRICT=1`` (or ``strict=True``) raises instead.
        A call of the wrong shape (not a mapping, a step that is not an integer) always raises.
        """
        if step is None:
            step = self._next_step
        elif type(step) is not int:
            step = as_step(step)
        self._next_step = step + 1
        clean: dict[str, float] = {}
        known = self._keys
        try:
            items = values.items()
        except AttributeError:
            raise TypeError(f"log() takes a mapping of metric name to number, got {type(values).__name__}") from None
        for key, value in items:
            if type(value) is float and key in known:
                clean[key] = value
            else:
                self._admit(clean, key, value, 0)
        if clean:
            self._emit(Kind.METRICS, {"step": step, "values": clean})
        elif self._strict:
            raise ValueError("log() needs at least one metric value")

    @property
    def dropped_values(self) -> dict[str, int]:
        """Per key, how many values ``log()`` dropped (also in the run's params as ``runwatch/dropped_values``)."""
        return dict(self._dropped.counts)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record hyperparameters (searchable as ``params.<name>``)."""
        self._emit(Kind.PARAMS, {"params": bounded_mapping("params", params)})

    def set_tags(self, *tags: str) -> None:
        """Add tags to the run."""
        self._emit(Kind.TAGS, {"tags": tag_list(tags)})

    def note(self, text: str) -> None:
        """Attach a free-text note."""
        self._emit(Kind.NOTE, {"text": bounded_text("note", text)})

    def alert(self, title: str, text: str = "", level: str = "warn") -> None:
        """Raise an alert from training code (delivered by the ``user_alert`` rules)."""
        level = alert_level(level)
        self._emit(
            Kind.ALERT, {"title": bounded_text("title", title), "text": bounded_text("text", text), "level": level}
        )

    def log_artifact(
        self,
        path: str | os.PathLike[str],
        name: str | None = None,
        *,
        type: str = "file",
        aliases: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> ArtifactHandle:
        """Store a file or a directory (a new version of ``name``); returns at once.

        Only a snapshot is taken here (the stored content is the file as it was when this
        returns); hashing and upload happen on a background thread. A URI (``s3://…``) is
        recorded as a reference, not uploaded.
        """
        self._check_open()
        return self._artifacts.log(path, name, type=type, aliases=aliases, metadata=metadata)

    def log_image(self, key: str, image: Any, step: int | None = None) -> ArtifactHandle:
        """Store an image (path, bytes, PIL image, NumPy array, matplotlib figure) as artifact ``key``."""
        self._check_open()
        return self._artifacts.log_image(key, image, None if step is None else as_step(step))

    def use_artifact(self, name: str, version: int | str = "latest", *, project: str | None = None) -> Path:
        """Download a version (``latest``, a number or an alias; cached) and record that this run used it."""
        self._check_open()
        return self._artifacts.use(name, version, project)

    def use_dataset(
        self, path_or_uri: str | os.PathLike[str], version: str | int | None = None, *, name: str | None = None
    ) -> str:
        """Record that this run reads a dataset: param ``dataset/<name>`` with its URI, version, DVC md5, LFS oid.

        ``runwatch:project/name:v3`` (a stored artifact) is recorded in the artifact lineage
        instead, as ``use_artifact`` does, and its local path returned. Otherwise returns the
        path or URI as given; nothing is read but the file's ``.dvc`` sidecar or LFS pointer.
        """
        self._check_open()
        target = os.fspath(path_or_uri)
        if not isinstance(target, str) or not target:
            raise TypeError(f"use_dataset() takes a path or URI, got {target!r:.60}")
        if version is not None and (isinstance(version, bool) or not isinstance(version, str | int)):
            raise TypeError(f"version must be a string or an integer, got {type(version).__name__}")
        stored = artifact_ref(target)
        if stored is not None:
            project, artifact, ref = stored
            return str(self.use_artifact(artifact, ref if version is None else version, project=project))
        self.log_params({dataset_param(target, name): dataset_entry(target, None if version is None else str(version))})
        return target

    # --------------------------------------------------------------- lifecycle

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything logged so far was handed to Redis; False on timeout."""
        return self._sender.flush(timeout)

    def finish(
        self,
        status: str = "finished",
        *,
        exit_code: int | None = None,
        traceback: str | None = None,
        message: str | None = None,
    ) -> None:
        """Mark the run ended and drain the sender (what Redis cannot take is spooled).

        ``message`` says why in words (``sys.exit("no data left")`` records it).
        """
        status = ended_status(status)
        message = optional_str("message", message)
        if os.getpid() != self._owner_pid:
            return  # a forked worker never ends the parent's run
        self._provenance.wait(_PROVENANCE_WAIT)  # a short run still records its data versions
        with _hooks.sigterm_deferred(), self._finish_lock:  # a SIGTERM meanwhile waits for the drain
            if self.finished:
                return
            self._report_dropped()  # the last counts of dropped values
            self.finished = True
            payload: dict[str, Any] = {"status": status}
            if exit_code is not None:
                payload["exit_code"] = exit_code
            if traceback:
                payload["traceback"] = traceback[-MAX_PAYLOAD_BYTES // 4 :]
            if message:
                payload["message"] = message[: MAX_PAYLOAD_BYTES // 4]
            self._emit(Kind.STATUS, payload)
            self._sender.close(timeout=_flush_timeout())
            self._artifacts.close(timeout=_flush_timeout())  # what cannot be uploaded now stays staged
        _hooks.forget(self)

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.finish()
        elif isinstance(exc, SystemExit):  # sys.exit(0) finishes the run; its code is recorded as it is
            status, code, message = _hooks.exit_ending(exc.code)
            self.finish(status, exit_code=code, message=message)
        else:
            status, text = _hooks.ending_for(type(exc), exc, tb)
            self.finish(status, traceback=text)

    # ------------------------------------------------------------ forked children

    def after_fork_in_child(self) -> None:
        """In a forked child (e.g. a DataLoader worker): log as a new writer of the same run.

        Called by the fork hook ``init()`` installs; training code never needs it.
        """
        self.writer = new_writer_id()
        self._sender.restart_in_child(self.writer)
        self._artifacts = self._artifacts.after_fork()

    def close_writer(self) -> None:
        """Send (or spool) what this process logged, without ending the run: how a forked child leaves.

        Called by the exit hooks ``init()`` installs in a forked child; training code never needs it.
        """
        self._sender.close(timeout=_flush_timeout())
        self._artifacts.close(timeout=_flush_timeout())

    # ----------------------------------------------------------------- internals

    def _check_open(self) -> None:
        if self.finished:
            raise RuntimeError(f"run {self.id} is finished; start a new one with emitter.init()")

    def _admit(self, clean: dict[str, float], key: Any, value: Any, depth: int) -> None:
        """``log()``'s slow path: a new key, a value to convert, a nested mapping, or a value to drop."""
        if isinstance(value, Mapping):
            for inner_key, inner in value.items():
                try:
                    name = nested_name(key, inner_key, depth)
                except (TypeError, ValueError) as problem:
                    self._drop(f"{key}/{inner_key!r}", problem)
                    continue
                self._admit(clean, name, inner, depth + 1)
            return
        try:
            number = to_float(key, value)
            if key not in self._keys:
                admit_key(self._keys, key, self._max_keys, self.id)
        except (TypeError, ValueError) as problem:
            self._drop(key, problem)
            return
        clean[key] = number

    def _drop(self, key: Any, problem: Exception) -> None:
        if self._strict:
            raise problem
        if self._dropped.add(key, problem):
            self._report_dropped()

    def _report_dropped(self) -> None:
        params = self._dropped.report()
        if params is not None:
            self._emit(Kind.PARAMS, {"params": params})

    def _emit(self, kind: str, payload: dict[str, Any]) -> None:
        if self.finished and kind != Kind.STATUS:
            raise RuntimeError(f"run {self.id} is finished; start a new one with emitter.init()")
        self._sender.put([None, time.time(), kind, payload])  # the sender stamps the seq

    def _heartbeat(self) -> None:
        if not self.finished:  # spool figures feed the exporter's replay counters
            sender = self._sender
            self._emit(Kind.HEARTBEAT, {"spilled": sender.spilled_entries, "replayed": sender.replayed_entries})
