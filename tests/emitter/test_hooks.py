"""The process hooks: a run's end is recorded however the process ends (plain exit, exception; SIGTERM: test_sigterm.py).

And forked workers log to the same run as writers of their own, and what they log arrives, however they end."""

from __future__ import annotations

import pytest

from tests.helpers import ThreadedService, run_python, wait_for


def _stored_run(store, project):
    runs = store.runs.recent(project=project)
    return runs[0] if runs and runs[0].status != "running" else None


def test_normal_exit_without_finish_marks_the_run_finished(emitter_env, collector, store):
    done = run_python("import emitter\nrun = emitter.init('exit-plain')\nrun.log({'x': 1.0})\n", emitter_env)
    assert done.returncode == 0, done.stderr
    run = wait_for(lambda: _stored_run(store, "exit-plain"), what="run ended")
    assert run.status == "finished"
    assert run.exit_info == {"exit_code": 0}


def test_an_unhandled_exception_marks_the_run_failed_with_its_traceback(emitter_env, collector, store):
    code = "import emitter\nrun = emitter.init('exit-error')\nrun.log({'x': 1.0})\nraise RuntimeError('boom 42')\n"
    done = run_python(code, emitter_env)
    assert done.returncode == 1
    assert "RuntimeError: boom 42" in done.stderr  # the user's exception is still printed
    run = wait_for(lambda: _stored_run(store, "exit-error"), what="run ended")
    assert run.status == "failed"
    assert "RuntimeError: boom 42" in run.exit_info["traceback"]


def test_a_forked_child_logs_to_the_same_run_as_a_new_writer(emitter_env, collector, store):
    code = """
import os, emitter
run = emitter.init('forked')
run.log({'parent': 1.0}, step=0)
pid = os.fork()
if pid == 0:
    run.log({'child': 2.0}, step=0)
    run.flush(10)
    import atexit; atexit._run_exitfuncs()
    os._exit(0)
os.waitpid(pid, 0)
run.log({'parent': 3.0}, step=1)
run.finish()
"""
    done = run_python(code, emitter_env)
    assert done.returncode == 0, done.stderr
    run = wait_for(lambda: _stored_run(store, "forked"), what="run ended")
    wait_for(lambda: store.series.count_points(run.id) == 3, what="parent and child points")
    assert run.status == "finished"
    assert sorted((p.key, p.value) for p in store.series.points(run.id)) == [
        ("child", 2.0),
        ("parent", 1.0),
        ("parent", 3.0),
    ]


def test_multiprocessing_workers_deliver_what_they_logged_before_os_exit(emitter_env, collector, store):
    """DataLoader and Pool workers are forked and leave through os._exit(), which skips atexit."""
    code = """
import multiprocessing, emitter
run = emitter.init('mp-workers')

def work(worker):
    for step in range(200):
        run.log({f'worker_{worker}': float(step)}, step=step)
    # returns at once: multiprocessing then calls os._exit() in this child

if __name__ == '__main__':
    ctx = multiprocessing.get_context('fork')
    workers = [ctx.Process(target=work, args=(w,)) for w in range(3)]
    for p in workers:
        p.start()
    for p in workers:
        p.join()
        assert p.exitcode == 0
    run.finish()
"""
    done = run_python(code, emitter_env)
    assert done.returncode == 0, done.stderr
    run = wait_for(lambda: _stored_run(store, "mp-workers"), what="run ended")
    wait_for(lambda: store.series.count_points(run.id) == 600, what="every worker's 200 points", timeout=20)
    assert {p.key for p in store.series.points(run.id)} == {"worker_0", "worker_1", "worker_2"}


WITH = "import sys, emitter\nwith emitter.init('ending') as run:\n    run.log({'x': 1.0})\n    {exit}\n"
WITHOUT = "import sys, emitter\nrun = emitter.init('ending')\nrun.log({'x': 1.0})\n{exit}\n"
ARGPARSE = "import argparse\nargparse.ArgumentParser().parse_args(['--no-such-option'])"


def _ending(script: str, end: str, returncode: int, status: str, exit_info: dict[str, object]) -> object:
    return pytest.param(
        script, end, returncode, status, exit_info, id=f"{'with' if script is WITH else 'no-with'}: {end}"
    )


@pytest.mark.parametrize(
    ("script", "end", "returncode", "status", "exit_info"),
    [
        _ending(WITH, "sys.exit(0)", 0, "finished", {"exit_code": 0}),
        _ending(WITH, "sys.exit()", 0, "finished", {"exit_code": 0}),
        _ending(WITH, "sys.exit(3)", 3, "failed", {"exit_code": 3}),
        _ending(WITH, "raise SystemExit(4)", 4, "failed", {"exit_code": 4}),
        _ending(WITH, "sys.exit('no data left')", 1, "failed", {"exit_code": 1, "message": "no data left"}),
        _ending(WITHOUT, "sys.exit(0)", 0, "finished", {"exit_code": 0}),
        _ending(WITHOUT, "sys.exit(3)", 3, "failed", {"exit_code": 3}),
        _ending(WITHOUT, "sys.exit('no data left')", 1, "failed", {"exit_code": 1, "message": "no data left"}),
        _ending(WITHOUT, "exit(5)", 5, "failed", {"exit_code": 5}),  # the site builtin
        _ending(WITHOUT, "quit(6)", 6, "failed", {"exit_code": 6}),
        _ending(WITHOUT, ARGPARSE, 2, "failed", {"exit_code": 2}),  # argparse, click, absl exit through sys.exit
        # documented limit: without `with`, a bare raise is invisible on Python 3.11 (gone before atexit)
        _ending(WITHOUT, "raise SystemExit(3)", 3, "finished", {"exit_code": 0}),
    ],
)
def test_an_exit_code_is_recorded_as_it_is(emitter_env, collector, store, script, end, returncode, status, exit_info):
    """0 finishes the run; anything else fails it with that code; a message is kept (and is code 1)."""
    done = run_python(script.replace("{exit}", end.replace("\n", "\n" + " " * 4 * (script is WITH))), emitter_env)
    assert done.returncode == returncode, done.stderr  # the process still exits as it said
    run = wait_for(lambda: _stored_run(store, "ending"), what="run ended")
    assert (run.status, run.exit_info) == (status, exit_info)


def test_a_systemexit_that_is_caught_does_not_end_the_run(emitter_env, collector, store):
    code = (
        "import sys, emitter\nrun = emitter.init('caught')\n"
        "try:\n    sys.exit(3)\nexcept SystemExit:\n    pass\nrun.log({'x': 1.0})\n"
    )
    done = run_python(code, emitter_env)
    assert done.returncode == 0, done.stderr
    run = wait_for(lambda: _stored_run(store, "caught"), what="run ended")
    assert (run.status, run.exit_info) == ("finished", {"exit_code": 0})


@pytest.fixture
def service_with_stall_detector(settings):
    """The whole service, marking a run lost 2 s after its events stop (on the collector's clock)."""
    service = ThreadedService(settings.model_copy(update={"lost_after": 2.0, "stall_interval": 0.5})).start()
    yield service
    service.stop()


def test_os_exit_runs_no_hook_so_the_run_ends_lost_with_what_was_flushed(emitter_env, service_with_stall_detector):
    """os._exit() skips atexit and every other hook: nothing can record the end, the heartbeats stop."""
    code = (
        "import os, emitter\nrun = emitter.init('os-exit')\n"
        "for step in range(50):\n    run.log({'x': float(step)}, step=step)\n"
        "assert run.flush(20)\nos._exit(3)\n"
    )
    done = run_python(code, emitter_env)
    assert done.returncode == 3, done.stderr
    store = service_with_stall_detector.store
    run = wait_for(lambda: _stored_run(store, "os-exit"), what="the run marked lost")
    assert run.status == "lost"
    assert store.series.count_points(run.id) == 50  # flushed before os._exit: delivered


def test_finish_before_os_exit_records_the_end(emitter_env, service_with_stall_detector):
    code = (
        "import os, emitter\nrun = emitter.init('os-exit-finished')\nrun.finish('failed', exit_code=3)\nos._exit(3)\n"
    )
    done = run_python(code, emitter_env)
    assert done.returncode == 3, done.stderr
    run = wait_for(lambda: _stored_run(service_with_stall_detector.store, "os-exit-finished"), what="run ended")
    assert (run.status, run.exit_info) == ("failed", {"exit_code": 3})
