"""The current run and the process hooks that record its end however the process ends.

The first ``init()`` installs them (never the import): atexit (a plain exit marks the run
``finished``; an exit code other than 0 marks it ``failed`` with that code), ``sys.excepthook``
(an unhandled exception marks it ``failed``, or ``killed`` for Ctrl-C, with the traceback),
SIGTERM chained to any previous handler (``killed``, then the process still dies by the
signal), and the fork hooks: a forked child logs as a new writer of the same run and drains
its own sender when it leaves, through atexit or, for multiprocessing children that leave
through ``os._exit()``, through a multiprocessing finalizer.

The exit code: atexit runs after the interpreter has dropped the ``SystemExit`` that ended
it, so ``sys.exit``, ``exit`` and ``quit`` are wrapped to remember the ``SystemExit`` they
raise (argparse, click and absl exit through ``sys.exit``). Whether that one ended the
process or was caught is told by when CPython releases it: with no Python frame running
(the interpreter took it to exit) or inside one (an ``except`` caught it, the process goes
on). Invisible from here: a bare ``raise SystemExit(n)`` (use ``with emitter.init()``) and
``os._exit()``, which runs no hook at all.

A Python signal handler runs in the main thread between two bytecodes of whatever it was
doing, so the SIGTERM handler must never wait for a lock the interrupted code may hold: the
emitter's own sections that hold one (a spill to the spool, a drain, ``finish()``) run under
``sigterm_deferred()``, and a SIGTERM landing inside one is handled when the outermost ends.
``log()`` itself holds no lock (``Sender.put`` is a deque append and a reentrant wake-up).

This module holds the one piece of process-global state the emitter has: the run the
module-level functions (``emitter.log`` and friends) act on (and, with it, the state of
the process hooks).
"""

from __future__ import annotations

import atexit
import builtins
import functools
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

from .events import RunStatus

if TYPE_CHECKING:
    from .run import Run

_current: Run | None = None
_hooks_installed = False
_previous_sigterm: Any = None
_previous_excepthook = sys.excepthook
_sections = threading.local()  # .depth: how deep this thread is in sigterm_deferred() sections
_deferred_sigterm: tuple[int, FrameType | None] | None = None
_exit_code: tuple[object] | None = None  # the code of the SystemExit sys.exit() raised last, unless caught
_exits_raised = 0


def current() -> Run | None:
    """The run started by the last ``init()`` in this process, if it has not finished."""
    return _current


def set_current(run: Run) -> None:
    """Make ``run`` the current run, installing the process hooks on first use."""
    global _current
    _current = run
    _install_hooks()


def forget(run: Run) -> None:
    """A finished run stops being current (a newer current run stays)."""
    global _current
    if _current is run:
        _current = None


def ending_for(exc_type: type[BaseException], exc: BaseException | None, tb: TracebackType | None) -> tuple[str, str]:
    """The status and traceback an exception ends a run with: Ctrl-C kills it, anything else fails it."""
    status = RunStatus.KILLED if issubclass(exc_type, KeyboardInterrupt) else RunStatus.FAILED
    return status.value, "".join(traceback.format_exception(exc_type, exc, tb))


class _SigtermDeferred:
    """The body of ``with sigterm_deferred():`` is never interrupted by the SIGTERM handler."""

    def __enter__(self) -> None:
        _sections.depth = getattr(_sections, "depth", 0) + 1

    def __exit__(self, *exc_info: object) -> None:
        global _deferred_sigterm
        _sections.depth -= 1
        if _sections.depth or _deferred_sigterm is None or threading.current_thread() is not threading.main_thread():
            return
        signum, frame = _deferred_sigterm
        _deferred_sigterm = None
        _on_sigterm(signum, frame)


_SIGTERM_DEFERRED = _SigtermDeferred()


def sigterm_deferred() -> _SigtermDeferred:
    """A section of the emitter's own that holds a lock the SIGTERM handler needs: the signal waits for its end.

    Only the main thread's sections matter (Python runs signal handlers there); a lock another
    thread holds is released while the handler waits for it.
    """
    return _SIGTERM_DEFERRED


def exit_ending(code: object) -> tuple[str, int, str | None]:
    """Status, exit code and message of ``SystemExit(code)``, read as Python does: None and 0 finish the run."""
    if code is None:
        return RunStatus.FINISHED.value, 0, None
    if isinstance(code, int):
        return (RunStatus.FINISHED if code == 0 else RunStatus.FAILED).value, int(code), None
    return RunStatus.FAILED.value, 1, str(code)  # Python prints it and exits with 1


class _ExitWatch:
    """Rides on a SystemExit that ``sys.exit()`` raised (and only there: it must die with it).

    When the exception is released, it learns whether it was caught.
    """

    def __init__(self, serial: int) -> None:
        self.serial = serial

    def __del__(self) -> None:
        global _exit_code
        try:
            caught = sys._getframe().f_back is not None  # released inside a running frame: an except took it
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            return
        if caught and self.serial == _exits_raised:
            _exit_code = None


def _remember(exc: SystemExit) -> None:
    global _exit_code, _exits_raised
    if threading.current_thread() is threading.main_thread():  # elsewhere it only ends that thread
        _exits_raised += 1
        exc.__dict__["_runwatch_exit_watch"] = _ExitWatch(_exits_raised)
        _exit_code = (exc.code,)


def _remembering(exit_function: Callable[..., Any]) -> Callable[..., NoReturn]:
    """``sys.exit``, ``exit`` or ``quit``, remembering the SystemExit it raises."""

    @functools.wraps(exit_function)
    def remembering_exit(*args: Any, **kwargs: Any) -> NoReturn:
        try:
            exit_function(*args, **kwargs)
        except SystemExit as exc:
            _remember(exc)
            raise  # the except clause drops its name for exc: no cycle through this frame
        raise SystemExit(*args)  # not reached: exit_function always raises

    return remembering_exit


class _RememberingQuitter:
    """The ``exit``/``quit`` builtins (site's Quitter), remembering their SystemExit; same repr."""

    def __init__(self, quitter: Any) -> None:
        self._quitter = quitter
        self._call = _remembering(quitter)

    def __repr__(self) -> str:
        return repr(self._quitter)

    def __call__(self, code: object = None) -> NoReturn:
        self._call(code)


def _install_hooks() -> None:
    """Registered on the first init(), never at import: atexit, SIGTERM, excepthook, fork."""
    global _hooks_installed, _previous_sigterm, _previous_excepthook
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_at_exit)
    sys.exit = _remembering(sys.exit)
    for name in ("exit", "quit"):
        quitter = getattr(builtins, name, None)  # absent under python -S
        if quitter is not None:
            setattr(builtins, name, _RememberingQuitter(quitter))
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
        status, code, message = exit_ending(_exit_code[0] if _exit_code is not None else None)
        run.finish(status, exit_code=code, message=message)


def _excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    run = _current
    if run is not None and not run.finished:
        status, text = ending_for(exc_type, exc, tb)
        try:
            run.finish(status, exit_code=1, traceback=text)
        except Exception:  # noqa: BLE001 - never mask the user's exception
            pass
    _previous_excepthook(exc_type, exc, tb)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _deferred_sigterm
    if getattr(_sections, "depth", 0):
        _deferred_sigterm = (signum, frame)  # the interrupted code holds a lock finishing needs
        return
    with _SIGTERM_DEFERRED:  # a second SIGTERM waits for this drain
        run = _current
        if run is not None and not run.finished:
            run.finish(RunStatus.KILLED.value, exit_code=128 + signum)
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _after_fork_in_child() -> None:
    """A forked child (e.g. a DataLoader worker) logs as a new writer and drains it at exit."""
    run = _current
    if run is not None and not run.finished:
        run.after_fork_in_child()
        atexit.register(run.close_writer)


def _drain_before_os_exit(_: object) -> None:
    """In a multiprocessing child: drain the sender in multiprocessing's own exit finalizers.

    DataLoader and Pool workers leave through os._exit(), which skips atexit. This runs
    (only in such a child) after multiprocessing has reset its finalizers, so the one added
    here stays.
    """
    run = _current
    if run is not None and not run.finished:
        from multiprocessing.util import Finalize

        Finalize(None, run.close_writer, exitpriority=100)
