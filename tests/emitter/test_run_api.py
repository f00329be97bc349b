"""The Run API: steps, the captured environment, the module-level functions, how a run ends, never raising for transport problems."""

from __future__ import annotations

import time

import pytest

import emitter
from tests.helpers import wait_for


def test_step_auto_increments_and_follows_explicit_steps(offline_run):
    offline_run.log({"x": 1.0})
    offline_run.log({"x": 1.0})
    offline_run.log({"x": 1.0}, step=10)
    offline_run.log({"x": 1.0})
    steps = [e[3]["step"] for e in offline_run._sender._queue if e[2] == "metrics"]
    assert steps == [0, 1, 10, 11]


def test_run_start_captures_the_environment(offline_run, run_start_of):
    env = run_start_of(offline_run)[3]["env"]
    assert {
        "git",
        "python",
        "platform",
        "hostname",
        "user",
        "pid",
        "argv",
        "cpu_count",
        "memory_bytes",
        "gpus",
        "packages",
    } <= set(env)
    assert env["git"]["commit"] and isinstance(env["git"]["dirty"], bool)  # the tests run in a git checkout
    assert "msgpack" in env["packages"]


def test_log_never_raises_and_never_waits_when_redis_is_unreachable(offline_run):
    started = time.perf_counter()
    for step in range(20_000):
        offline_run.log({"loss": 1.0, "acc": 0.5}, step=step)
    assert time.perf_counter() - started < 10  # generous: a sanity bound, the benchmark measures speed
    offline_run.finish()
    assert list((offline_run.home / "spool").glob("*.seg"))


def test_module_level_functions_act_on_the_current_run(offline_run):
    emitter.log({"x": 1.0}, step=3)
    emitter.log_params({"depth": 50})
    emitter.set_tags("baseline")
    emitter.note("first try")
    emitter.alert("hello", "world", level="info")
    kinds = [e[2] for e in offline_run._sender._queue]
    assert kinds[-5:] == ["metrics", "params", "tags", "note", "alert"]
    assert emitter.current_run() is offline_run
    emitter.finish()
    assert emitter.current_run() is None
    with pytest.raises(RuntimeError, match="call emitter.init"):
        emitter.log({"x": 1.0})


def test_logging_after_finish_is_an_error(offline_run):
    offline_run.finish()
    with pytest.raises(RuntimeError, match="is finished"):
        offline_run.log({"x": 1.0})


def _stored_run(store, project):
    runs = store.runs.recent(project=project)
    return runs[0] if runs and runs[0].status != "running" else None


def test_an_exception_inside_the_context_manager_marks_failed_and_re_raises(emitter_env, collector, store):
    try:
        with emitter.init("ctx-error") as run:
            run.log({"x": 1.0})
            raise ValueError("inside")
    except ValueError:
        pass
    else:
        raise AssertionError("the exception must propagate")
    stored = wait_for(lambda: _stored_run(store, "ctx-error"), what="run ended")
    assert stored.status == "failed"
    assert "ValueError: inside" in stored.exit_info["traceback"]


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379/0", "redis+cluster:///0"])
def test_a_redis_url_nobody_can_use_is_said_once_and_everything_is_spooled(url, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("RUNWATCH_FLUSH_TIMEOUT", "1")
    run = emitter.init("bad-url", redis_url=url, home=tmp_path / "home")
    for step in range(100):
        run.log({"loss": 1.0}, step=step)
    run.finish()
    said = [r.getMessage() for r in caplog.records if "cannot use RUNWATCH_REDIS_URL" in r.getMessage()]
    assert len(said) == 1 and ("unsupported Redis URL scheme" in said[0] or "names a node" in said[0])
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # no traceback per retry
    assert list((run.home / "spool").glob("*.seg"))  # nothing lost: replayed by `runwatch sync` later
