"""SIGTERM (and Ctrl-C) at any moment: the run is recorded as killed, nothing logged is lost, nothing hangs.

A Python signal handler runs in the main thread between two bytecodes of whatever it was
doing. These tests make that moment deterministic instead of a race: a trace function
raises the signal just before the N-th line run inside a chosen function, for every N,
each in a fresh process, so the handler runs with exactly the state (locks held, event
half queued) that line sees.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest

from emitter import sync_spool
from emitter._spool import Spool
from tests.helpers import ROOT, free_port, spawn_python, wait_for

DELIVER = """
import os, signal, sys, time
import emitter

def deliver_at_line(target, code, signum, *, nested=True):
    '''A trace function that raises ``signum`` just before the target-th line run inside ``code``.

    Its handler runs right there, in this frame, before the line: the state is exactly that line's.
    ``nested`` counts lines of everything ``code`` calls too; otherwise only its own.
    '''
    count = 0

    def on_line(frame, event, arg):
        nonlocal count
        if event == "line" and (nested or frame.f_code is code):
            count += 1
            if count == target:
                sys.settrace(None)
                os.write(1, f"at {frame.f_code.co_name}:{frame.f_lineno}\\n".encode())
                signal.raise_signal(signum)
        return on_line

    def on_call(frame, event, arg):
        inside = frame
        while inside is not None:
            if inside.f_code is code:
                return on_line
            inside = inside.f_back
        return None

    return on_call

def past_the_end():
    sys.settrace(None)
    os.write(1, b"past the end\\n")
"""

LOG_WAKES_AN_IDLE_SENDER = (
    DELIVER
    + """
run = emitter.init("sig-log")
print(run.id, flush=True)
run.log({"x": 0.0}, step=0)
while not run._sender._idle:  # the next log() must wake the idle sender thread
    time.sleep(0.001)
within = getattr(emitter.Run, os.environ["WITHIN"]).__code__
sys.settrace(deliver_at_line(int(os.environ["TARGET"]), within, int(os.environ["SIGNUM"])))
run.log({"x": 1.0}, step=1)
past_the_end()
"""
)

SIGTERM_WHILE_SPILLING = (
    DELIVER
    + """
from emitter._spool import Spool
from emitter._sender import Sender
fired = False

def on_call(frame, event, arg):  # SIGTERM as the training thread itself writes the queue to the spool
    global fired
    if frame.f_code is Spool.write.__code__:
        caller = frame
        while caller is not None and caller.f_code is not Sender._spill_queue.__code__:
            caller = caller.f_back
        if caller is not None:
            sys.settrace(None)
            fired = True
            os.write(1, b"fired\\n")
            signal.raise_signal(signal.SIGTERM)
    return None

run = emitter.init("sig-spill", max_queue=4)
step = 0
sys.settrace(on_call)
while not fired:
    run.log({"x": float(step)}, step=step)
    step += 1
past_the_end()
"""
)

SIGTERM_DURING_FINISH = (
    DELIVER
    + """
run = emitter.init("sig-finish")
for step in range(100):
    run.log({"x": float(step)}, step=step)
sys.settrace(deliver_at_line(int(os.environ["TARGET"]), emitter.Run.finish.__code__, signal.SIGTERM, nested=False))
run.finish()
past_the_end()
"""
)


def _stored_run(store, project):
    runs = store.runs.recent(project=project)
    return runs[0] if runs and runs[0].status != "running" else None


def test_sigterm_marks_the_run_killed_and_the_process_still_dies_by_the_signal(emitter_env, collector, store):
    code = (
        "import emitter, time\nrun = emitter.init('exit-term')\n"
        "for step in range(100000):\n    run.log({'x': float(step)}, step=step)\n    time.sleep(0.001)\n"
    )
    process = spawn_python(code, emitter_env)
    started = wait_for(lambda: store.runs.recent(project="exit-term"), what="run started")[0]
    # a stored point means init() returned and its hooks are in place (the run is stored before they are)
    wait_for(lambda: store.series.count_points(started.id) > 0, what="points logged")
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == -signal.SIGTERM
    run = wait_for(lambda: _stored_run(store, "exit-term"), what="run ended")
    assert run.status == "killed"
    assert store.series.count_points(run.id) == run.last_step + 1  # everything logged before the signal arrived


class Trial:
    """One process of a sweep: the signal raised before the target-th line."""

    def __init__(self, code: str, env: dict[str, str], target: int) -> None:
        self.target = target
        self.home = Path(env["RUNWATCH_HOME"])
        self.process = spawn_python(
            code, {**env, "TARGET": str(target)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )

    def finish(self, timeout: float = 30.0) -> tuple[int, list[str]]:
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
            pytest.fail(f"trial {self.target} hung after the signal ({out.strip()!r}): the handler deadlocked")
        lines = out.strip().splitlines()
        assert self.process.returncode in (0, -signal.SIGTERM, -signal.SIGINT), err
        return self.process.returncode, lines


def sweep(code: str, env_for: Callable[[int], dict[str, str]], batch: int = 4) -> Iterator[tuple[Trial, list[str]]]:
    """Every trial from target 1 on, a few processes at a time, until one runs past the last line."""
    target = 1
    while True:
        trials = [Trial(code, env_for(target + i), target + i) for i in range(batch)]
        done = False
        try:
            for trial in trials:
                _, lines = trial.finish()
                done = done or "past the end" in lines
                yield trial, lines
        finally:
            for trial in trials:
                trial.process.kill()
                trial.process.wait()
        if done:
            return
        target += batch
        assert target < 400, "the sweep never ran past the end"


def spooled_events(home: Path) -> list[list[Any]]:
    events: list[list[Any]] = []
    for segment in Spool(home / "spool").segments():
        _run_id, body = segment.read()
        events.extend(msgpack.unpackb(body, raw=False)[1])
    return sorted(events, key=lambda event: event[0])


def assert_nothing_lost(events: list[list[Any]]) -> None:
    """Seqs 0..n without a gap (a gap would hold the committed watermark back for ever), a status last."""
    assert [event[0] for event in events] == list(range(len(events)))
    steps = [event[3]["step"] for event in events if event[2] == "metrics"]
    assert steps == list(range(len(steps)))
    assert events[-1][2] == "status" and events[-1][3]["status"] in ("killed", "finished")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "within", "lines_in"),
    [
        pytest.param(signal.SIGTERM, "log", {"log", "_emit", "put"}, id="SIGTERM-in-log"),
        pytest.param(signal.SIGINT, "_emit", {"_emit", "put"}, id="Ctrl-C-while-queueing"),
    ],
)
def test_a_signal_at_any_line_of_a_log_call_that_wakes_the_sender_ends_the_run_killed(
    emitter_env, collector, store, tmp_path, signum, within, lines_in
):
    """SIGTERM used to hang for ever when it landed inside the wake-up of an idle sender (the
    handler waited for the Event lock the interrupted line held), and a signal (or Ctrl-C's
    KeyboardInterrupt) between an event's seq and its queueing left a gap no watermark passes."""

    def env_for(target: int) -> dict[str, str]:
        home = str(tmp_path / f"t{target}")
        return {**emitter_env, "RUNWATCH_HOME": home, "SIGNUM": str(int(signum)), "WITHIN": within}

    reached = set()
    for trial, lines in sweep(LOG_WAKES_AN_IDLE_SENDER, env_for):
        run_id = lines[0]
        if "past the end" in lines:
            continue
        reached.add(lines[1].split()[1].split(":")[0])  # "at put:123"
        run = wait_for(lambda: (r := store.runs.get(run_id)) and r.status != "running" and r, what="run ended")
        assert run.status == "killed", lines
        report = sync_spool(trial.home, timeout=20)  # whatever the job spooled, the collector confirms
        assert report.remaining == 0 and not report.skipped_writers, (lines, report)
    assert lines_in <= reached


@pytest.mark.slow
def test_sigterm_while_the_training_thread_spills_to_the_spool_waits_for_the_spill(tmp_path):
    """The handler needs the sender's lock the spill holds: it runs when the spill is done."""
    home = tmp_path / "home"
    env = {
        **os.environ,
        "RUNWATCH_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "RUNWATCH_HOME": str(home),
        "RUNWATCH_FLUSH_TIMEOUT": "2",
    }
    process = subprocess.run(
        [sys.executable, "-c", SIGTERM_WHILE_SPILLING],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert process.stdout.splitlines() == ["fired"], process.stderr
    assert process.returncode == -signal.SIGTERM, process.stderr
    events = spooled_events(home)
    assert_nothing_lost(events)
    assert events[-1][3]["status"] == "killed"


@pytest.mark.slow
def test_sigterm_at_any_line_of_finish_lets_the_drain_complete(tmp_path):
    """Redis is down, so finish() spools: a SIGTERM meanwhile never loses what it was spooling."""
    url = f"redis://127.0.0.1:{free_port()}/0"

    def env_for(target: int) -> dict[str, str]:
        return {
            **os.environ,
            "RUNWATCH_REDIS_URL": url,
            "RUNWATCH_HOME": str(tmp_path / f"t{target}"),
            "RUNWATCH_FLUSH_TIMEOUT": "2",
        }

    for trial, lines in sweep(SIGTERM_DURING_FINISH, env_for):
        events = spooled_events(trial.home)
        assert_nothing_lost(events)
        assert len([event for event in events if event[2] == "metrics"]) == 100, lines
