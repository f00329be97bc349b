"""The W&B-shaped surface of a run: ``import emitter as wandb`` runs the common W&B script.

``emitter.init()`` returns a ``WandbRun``: a ``Run`` (everything runwatch's own API does, unchanged)
that also takes W&B's calls — ``config`` and ``summary`` (``_wandb_config.py``), ``log(d, step=,
commit=)`` with nested dicts flattened with ``/`` and ``Image`` values stored as images,
``alert(title, text, level, wait_duration)`` sent once per title within ``wait_duration``,
``define_metric`` (recorded), ``save`` and ``log_artifact`` (the artifact store), ``finish(exit_code=)``.

What W&B has and runwatch does not (``wandb.watch``, ``wandb.Table``, ``mode=``, ``entity=`` …) is
said once per run (an ``UnsupportedWarning``) and otherwise ignored: never an exception in the
training loop. Differences worth knowing: a ``log()`` with an explicit ``step`` moves the next
automatic step past it (W&B would keep adding to that step), and values go out at once rather
than per committed row, which is the same to a stream of points.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ._artifacts import ArtifactHandle
from ._http import DEFAULT_API_URL
from ._validate import plain
from ._wandb_config import Config, Summary, UnsupportedWarning, as_mapping
from .events import Kind
from .run import Run

logger = logging.getLogger(__name__)

UNSET: Any = object()  # finish()'s status when none is given (None stays the error it always was)
DEFAULT_WAIT = 60.0  # seconds between two alerts of one title (W&B's default)
_NUMBERS = (float, int)  # what wait_duration takes besides a timedelta


class AlertLevel(StrEnum):
    """W&B's alert levels, as runwatch's: ``wandb.alert(title, text, level=AlertLevel.WARN)``."""

    INFO = "info"
    WARN = "warn"
    ERROR = "error"


class Image:
    """An image to ``log()``: ``wandb.log({"samples": wandb.Image(array)})`` (a path, bytes, PIL, NumPy, figure).

    >>> run.log({"input": emitter.Image(batch[0], caption="first")}, step=10)

    Stored as a version of the image artifact named after the key (``run.log_image``). Captions,
    boxes and masks are not stored (said once).
    """

    def __init__(self, data_or_path: Any, mode: str | None = None, caption: str | None = None, **extra: Any) -> None:
        self.data = data_or_path
        self.caption = caption
        self.extra = {key: value for key, value in extra.items() if value is not None}
        if mode is not None:
            self.extra["mode"] = mode


class Artifact:
    """A set of files to log as one artifact version: ``add_file``/``add_dir``, then ``run.log_artifact(a)``."""

    def __init__(self, name: str, type: str = "file", description: str | None = None, metadata: Any = None) -> None:
        self.name = name
        self.type = type
        self.description = description
        self.metadata = dict(metadata or {})
        self.entries: list[tuple[Path, str | None]] = []

    def add_file(self, local_path: str | os.PathLike[str], name: str | None = None, **_: Any) -> None:
        self.entries.append((Path(local_path), name))

    def add_dir(self, local_path: str | os.PathLike[str], name: str | None = None, **_: Any) -> None:
        self.entries.append((Path(local_path), name))


@dataclass
class DefinedMetric:
    """What ``define_metric`` was told (recorded in the run's params as ``define_metric/<name>``)."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)


class Unsupported:
    """Stands in for a W&B object runwatch has no equivalent of: any attribute or call gives itself back."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"<unsupported wandb.{self._name}>"

    def __getattr__(self, name: str) -> Unsupported:
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Unsupported:
        return self


def say_once(said: set[str], topic: str, message: str, stacklevel: int = 3) -> None:
    """One ``UnsupportedWarning`` per topic in ``said`` (a run's, or the caller's own)."""
    if topic not in said:
        said.add(topic)
        warnings.warn(f"runwatch: {message}", UnsupportedWarning, stacklevel=stacklevel)


def seconds(wait: float | timedelta | None) -> float:
    if wait is None:
        return DEFAULT_WAIT
    if isinstance(wait, timedelta):
        return wait.total_seconds()
    if isinstance(wait, bool) or not isinstance(wait, _NUMBERS):
        raise TypeError(f"wait_duration takes seconds or a timedelta, got {type(wait).__name__}")
    return float(wait)


def level_of(level: Any) -> str:
    """``AlertLevel.WARN``, ``"WARN"``, ``"warning"`` → ``"warn"``; runwatch's own levels pass."""
    text = str(getattr(level, "value", level)).lower()
    return "warn" if text == "warning" else text


class WandbRun(Run):
    """A ``Run`` that also speaks W&B: what ``emitter.init()`` returns (see the module docstring).

    >>> import emitter as wandb
    >>> run = wandb.init(project="mnist", config={"lr": 1e-3, "epochs": 2})
    >>> for epoch in range(wandb.config.epochs):
    ...     wandb.log({"train": {"loss": 0.5 / (epoch + 1)}, "epoch": epoch})   # train/loss, epoch
    >>> wandb.summary["best_loss"] = 0.25
    >>> wandb.finish()
    """

    def __init__(
        self, project: str, name: str | None = None, *, config: Mapping[str, Any] | None = None, **options: Any
    ):
        super().__init__(project, name, config=config, **options)
        self.notices: set[str] = set()  # the topics said once on this run
        self.last_logged: dict[str, Any] = {}
        self.config = Config(plain(dict(config or {})), self.log_params)
        self.summary = Summary(self.last_logged, self.log_params)
        self.defined_metrics: dict[str, DefinedMetric] = {}
        self._alerts_sent: dict[str, float] = {}  # title → when it was last sent (monotonic)
        self._dir: Path | None = None  # run.dir, once asked for

    @property
    def url(self) -> str:
        """The run's dashboard page (``RUNWATCH_PUBLIC_URL``, else ``RUNWATCH_URL``, else the local default)."""
        base = os.environ.get("RUNWATCH_PUBLIC_URL") or os.environ.get("RUNWATCH_URL") or DEFAULT_API_URL
        return f"{base.rstrip('/')}/runs/{quote(self.id, safe='')}"

    @property
    def dir(self) -> str:
        """W&B's ``run.dir``: a directory for the run's files; what it holds at ``finish()`` is stored as artifact ``files``."""
        path = self.home / "runs" / self.id / "files"
        path.mkdir(parents=True, exist_ok=True)
        self._dir = path
        return str(path)

    def say(self, topic: str, message: str) -> None:
        """Say ``message`` once on this run (an ``UnsupportedWarning`` naming the user's line)."""
        say_once(self.notices, topic, message, stacklevel=4)

    # ------------------------------------------------------------------ logging

    def log(
        self, values: Mapping[str, Any], step: int | None = None, commit: bool | None = None, sync: Any = None
    ) -> None:
        """``Run.log`` plus W&B's ``commit=False`` (the next call keeps the step) and ``Image`` values."""
        if sync is not None:
            self.say("log.sync", "log(sync=...) is ignored: runwatch always sends in the background")
        super().log(values, step)
        if commit is False:
            self._next_step -= 1  # W&B: the next log() adds to the same step

    def _admit(self, clean: dict[str, float], key: Any, value: Any, depth: int) -> None:
        """``Run.log``'s slow path (numbers take the fast one), first taking images and W&B stand-ins."""
        if isinstance(value, Image) or (
            isinstance(value, (list, tuple)) and value and all(isinstance(v, Image) for v in value)
        ):
            for image in value if isinstance(value, (list, tuple)) else [value]:
                self._log_image(str(key), image, self._next_step - 1)  # log() has set the next step already
        elif not isinstance(value, Unsupported):  # a stand-in was said when it was made
            super()._admit(clean, key, value, depth)

    def _emit(self, kind: str, payload: dict[str, Any]) -> None:
        if kind is Kind.METRICS:
            self.last_logged.update(payload["values"])  # the summary's defaults: one C-level update per call
        super()._emit(kind, payload)

    def _log_image(self, key: str, image: Image, step: int) -> None:
        if image.caption is not None or image.extra:
            self.say("image.extra", "Image captions, modes, boxes and masks are not stored; the image is")
        try:
            self.log_image(key, image.data, step)
        except (TypeError, ValueError, OSError) as problem:
            self.say(f"image:{key}", f"image {key!r} was not stored: {problem}")

    def define_metric(self, name: str, step_metric: str | None = None, **options: Any) -> DefinedMetric:
        """Recorded (params ``define_metric/<name>``); runwatch charts every series by step or time itself."""
        settings = {k: plain(v) for k, v in {"step_metric": step_metric, **options}.items() if v is not None}
        metric = self.defined_metrics[name] = DefinedMetric(name, settings)
        self.log_params({f"define_metric/{name}": settings or True})
        if step_metric is not None or options.get("summary") or options.get("goal"):
            self.say(
                "define_metric", "define_metric() is recorded; step_metric, summary and goal do not change the charts"
            )
        return metric

    def alert(
        self, title: str, text: str = "", level: Any = "warn", wait_duration: float | timedelta | None = DEFAULT_WAIT
    ) -> None:
        """Raise an alert; the same ``title`` again within ``wait_duration`` seconds is not sent (W&B's rule)."""
        wait, now = seconds(wait_duration), time.monotonic()
        last = self._alerts_sent.get(title)
        if last is not None and now - last < wait:
            logger.debug("runwatch: alert %r not sent again within %.0fs", title, wait)
            return
        super().alert(title, text, level_of(level))
        self._alerts_sent[title] = now

    # ---------------------------------------------------------------- artifacts

    def log_artifact(
        self,
        path: str | os.PathLike[str] | Artifact,
        name: str | None = None,
        *,
        type: str | None = None,
        aliases: Iterable[str] | None = (),
        metadata: Mapping[str, Any] | None = None,
        **unsupported: Any,
    ) -> ArtifactHandle:
        """``Run.log_artifact`` for a path, or a W&B-style ``Artifact`` of several files."""
        for option in unsupported:
            self.say(f"log_artifact.{option}", f"log_artifact({option}=...) is not supported and ignored")
        if not isinstance(path, Artifact):
            return super().log_artifact(path, name, type=type or "file", aliases=aliases or (), metadata=metadata)
        artifact = path
        meta = {**artifact.metadata, **(metadata or {})}
        if artifact.description:
            meta.setdefault("description", artifact.description)
        if len(artifact.entries) == 1 and artifact.entries[0][1] is None:
            source = artifact.entries[0][0]
            return super().log_artifact(
                source, name or artifact.name, type=type or artifact.type, aliases=aliases or (), metadata=meta
            )
        with tempfile.TemporaryDirectory(
            prefix="runwatch-artifact-"
        ) as staging:  # the snapshot is taken before it goes
            root = Path(staging) / "files"
            root.mkdir()
            for source, inner in artifact.entries:
                target = root / (inner or source.name)
                target.parent.mkdir(parents=True, exist_ok=True)
                if source.is_dir():
                    shutil.copytree(source, target, dirs_exist_ok=True)
                else:
                    shutil.copy2(source, target)
            return super().log_artifact(
                root, name or artifact.name, type=type or artifact.type, aliases=aliases or (), metadata=meta
            )

    def save(
        self, glob_str: str | os.PathLike[str], base_path: str | None = None, policy: str = "live"
    ) -> list[ArtifactHandle]:
        """Each file matching ``glob_str`` as an artifact named by its path below ``base_path`` (a snapshot now)."""
        if policy != "now":
            self.say("save.policy", f"save(policy={policy!r}): the files are stored as they are now, not again later")
        pattern = os.fspath(glob_str)
        base = Path(base_path) if base_path is not None else Path(pattern).parent
        handles = []
        for match in sorted(glob.glob(pattern, recursive=True)):
            path = Path(match)
            if path.is_file():
                name = path.relative_to(base).as_posix() if path.is_relative_to(base) else path.name
                handles.append(super().log_artifact(path, name, type="file"))
        return handles

    # ---------------------------------------------------------------- lifecycle

    def finish(
        self,
        status: Any = UNSET,
        *,
        exit_code: int | None = None,
        traceback: str | None = None,
        message: str | None = None,
        quiet: bool | None = None,
    ) -> None:
        """``Run.finish``, and W&B's ``finish(exit_code=)`` / ``finish(1)``: a non-zero code fails the run."""
        if isinstance(status, int):  # W&B's positional exit code
            exit_code = int(status)
            status = UNSET
        if status is UNSET:
            status = "failed" if exit_code else "finished"
        if self._dir is not None and not self.finished and os.getpid() == self._owner_pid:
            self._store_dir(self._dir)
        super().finish(status, exit_code=exit_code, traceback=traceback, message=message)

    def _store_dir(self, path: Path) -> None:
        """``run.dir``'s files as the artifact ``files`` (W&B uploads them at the end); never fails the finish."""
        self._dir = None
        try:
            if any(child.is_file() for child in path.rglob("*")):
                super().log_artifact(path, "files", type="file")
        except (OSError, ValueError, TypeError) as problem:
            logger.warning("runwatch: run.dir %s was not stored: %s", path, problem)


def init_options(options: dict[str, Any], resume: Any, run_id: str | None, said: set[str]) -> dict[str, Any]:
    """``init()``'s W&B-only keywords said once and dropped; runwatch's own (and typos) go on to ``Run``."""
    for option in [key for key in options if key in WANDB_INIT_ONLY]:
        value = options.pop(option)
        if value is not None:
            say_once(
                said, f"init.{option}", f"init({option}=...) has no runwatch equivalent and is ignored", stacklevel=4
            )
    if resume in ("must", "never"):
        say_once(said, "init.resume", f"init(resume={resume!r}) is not checked: an id resumes its run or starts it", 4)
    elif resume and run_id is None:
        say_once(said, "init.resume", "init(resume=...) needs id= to resume a run; a new run is started", 4)
    return options


def config_of(config: Any) -> dict[str, Any] | None:
    return None if config is None else as_mapping(config, "config")


#: init() keywords W&B has and runwatch does not.
WANDB_INIT_ONLY = frozenset(
    {
        "entity", "job_type", "dir", "mode", "reinit", "settings", "save_code", "anonymous", "magic",
        "sync_tensorboard", "monitor_gym", "config_exclude_keys", "config_include_keys", "allow_val_change",
        "force", "fork_from", "resume_from", "tensorboard", "quiet",
    }
)  # fmt: skip

#: Module attributes of W&B that have no runwatch equivalent: each is an ``Unsupported`` stand-in.
WANDB_UNSUPPORTED = frozenset(
    {
        "watch", "unwatch", "login", "Table", "Histogram", "Audio", "Video", "Html", "Object3D", "Molecule",
        "plot", "plots", "sweep", "agent", "controller", "Api", "restore", "mark_preempting", "log_code",
        "log_model", "use_model", "link_model", "setup", "teardown", "require", "Settings",
    }
)  # fmt: skip
