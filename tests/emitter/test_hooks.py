"""The process hooks: a run's end is recorded however the process ends (plain exit, exception; SIGTERM: test_sigterm.py).

And forked workers log to the same run as writers of their own, and what they log arrives, however they end."""

from __future__ import annotations

from tests.helpers import run_python, wait_for


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
