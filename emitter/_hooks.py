"""The current run and the process hooks that record its end however the process ends.

The first ``init()`` installs them (never the import): atexit (a plain exit marks the run
``finished``), ``sys.excepthook`` (an unhandled exception marks it ``failed``, or
``killed`` for Ctrl-C, with the traceback), SIGTERM chained to any previous handler
(``killed``, then the process still dies by the signal), and the fork hooks: a forked
child logs as a new writer of the same run and drains its own sender when it leaves,
through atexit or, for multiprocessing children that leave through ``os._exit()``,
through a multiprocessing finalizer.

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
import os
import signal
import sys
import threading
import traceback
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from .events import RunStatus

if TYPE_CHECKING:
    from .run import Run

_current: Run | None = None
_hooks_installed = False
_previous_sigterm: Any = None
_previous_excepthook = sys.excepthook
_sections = threading.local()  # .depth: how deep this thread is in sigterm_deferred() sections
_deferred_sigterm: tuple[int, FrameType | None] | None = None


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
        run.finish(RunStatus.FINISHED.value, exit_code=0)


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
