"""``RunBinding``: the run a framework integration writes to, and who ends it.

Who opens a run closes it. A ``Run`` handed to an integration belongs to the caller: it is
never finished here (the caller's ``with`` block or the emitter's exit hooks do that). A run
the integration opens itself it also ends: finished when the framework says training ended,
failed when training began and never ended —

- an exception that reaches the top of the process: the emitter's own excepthook marks the run
  (it is the current run: it was opened with ``emitter.init``) failed with the traceback;
- an exception that was caught, then the process exited: this binding's atexit hook, which runs
  before the emitter's, marks it failed (the emitter's alone would say finished);
- an exception that was caught, then training started again with the same callback: the old
  run is marked failed and the new attempt gets a run of its own.

Data the framework logs after training ended (``trainer.evaluate()`` after ``train()``, Lightning's
``test()`` after ``fit()``) resumes the same run id (``emitter.init(run_id=...)``), so it joins the run.
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Mapping
from typing import Any

import emitter
from emitter import Run

logger = logging.getLogger(__name__)

UNFINISHED = "training stopped before its end: an exception left {what}"
_NOT_ON_RESUME = ("config", "notes")  # a resumed run gains params and notes: do not repeat them


class RunBinding:
    """The run an integration logs to: one it was handed, or one it opens when training begins.

    >>> binding = RunBinding(None, project="bert", name=None, options={}, what="Trainer.train()")
    >>> run = binding.begin(config={"lr": 3e-4})
    >>> binding.log({"loss": 0.3}, step=1)
    >>> binding.end("finished")
    """

    def __init__(
        self, run: Run | None, *, project: str, name: str | None, options: Mapping[str, Any], what: str
    ) -> None:
        self._run = run
        self.owned = run is None
        self.project = project
        self.name = name
        self._options = dict(options)
        self._what = what
        self.training = False
        self._exit_hook = False
        self._warned: set[str] = set()

    def __repr__(self) -> str:
        return f"<RunBinding run={self._run!r} owned={self.owned} training={self.training}>"

    @property
    def current(self) -> Run | None:
        """The run last opened or handed in (possibly finished), without opening one."""
        return self._run

    # --------------------------------------------------------------- lifecycle

    def begin(self, config: Mapping[str, Any] | None = None, *, name: str | None = None) -> Run:
        """Training starts: a fresh run of our own (``config`` becomes its params), or the one handed in."""
        if self.training:  # the last attempt never reached its end: it failed (a handed-in run: noted)
            self.close("failed", reason=UNFINISHED.format(what=self._what), exit_code=1)
        elif self.owned:  # e.g. resumed by an evaluate() after the last training
            self.close("finished")
        self.training = True
        if not self.owned:
            run = self.run()
            if config:
                self.log_params(config)
            return run
        merged = {**(config or {}), **(self._options.get("config") or {})}
        options = {key: value for key, value in self._options.items() if key != "config"}
        self._run = emitter.init(self.project, self.name or name, config=merged, **options)
        self._hook_exit()
        return self._run

    def end(self, status: str = "finished", *, reason: str | None = None, traceback: str | None = None) -> None:
        """Training ended (``status`` says how); the reason, if any, is noted on the run."""
        self.training = False
        self.close(status, reason=reason, traceback=traceback)

    def close(
        self, status: str, *, reason: str | None = None, traceback: str | None = None, exit_code: int | None = None
    ) -> None:
        """Finish our own run; a handed-in run only gets the reason as a note.

        Without a traceback, a run that did not finish keeps the reason as its exit text.
        """
        run = self._run
        if run is None or run.finished:
            return
        if reason:
            self.call("note", run.note, reason)
        if not self.owned:
            return
        if traceback is None and status != "finished":
            traceback = reason
        run.finish(status, exit_code=exit_code, traceback=traceback)
        self._unhook_exit()

    def run(self) -> Run:
        """The run to log to now; our own run, closed after training, is resumed under the same id."""
        run = self._run
        if run is None:
            return self.begin_detached()
        if run.finished and self.owned:
            options = {key: value for key, value in self._options.items() if key not in _NOT_ON_RESUME}
            run = self._run = emitter.init(run.project, run.name, run_id=run.id, **options)
            self._hook_exit()
        return run

    def begin_detached(self) -> Run:
        """A run for data that arrives outside training (evaluate() alone): opened, not training."""
        run = self.begin()
        self.training = False
        return run

    # ----------------------------------------------------------------- logging

    def log(self, values: Mapping[str, float], step: int | None = None) -> None:
        """``run.log`` that warns instead of raising: a logging problem never stops training."""
        if values:
            self.call("log", self.run().log, values, step)

    def log_params(self, params: Mapping[str, Any]) -> None:
        if params:
            self.call("log_params", self.run().log_params, params)

    def note(self, text: str) -> None:
        self.call("note", self.run().note, text)

    def set_tags(self, *tags: str) -> None:
        self.call("set_tags", self.run().set_tags, *tags)

    # ----------------------------------------------------------------- internals

    def call(self, what: str, method: Any, *args: Any) -> None:
        """Call a Run method; a validation error or a finished run is a warning (once per kind), never raised."""
        try:
            method(*args)
        except (TypeError, ValueError, RuntimeError) as error:  # the emitter's validation, a finished run
            if what not in self._warned:
                self._warned.add(what)
                logger.warning("runwatch: %s skipped (further ones are skipped silently): %s", what, error)

    def _hook_exit(self) -> None:
        if not self._exit_hook:
            atexit.register(self._at_exit)  # after emitter.init's own hooks, so it runs before them
            self._exit_hook = True

    def _unhook_exit(self) -> None:
        if self._exit_hook:
            atexit.unregister(self._at_exit)
            self._exit_hook = False

    def _at_exit(self) -> None:
        if self.training:
            self.close("failed", reason=UNFINISHED.format(what=self._what), exit_code=1)
        else:
            self.close("finished", exit_code=0)
