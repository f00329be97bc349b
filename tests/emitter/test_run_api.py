"""The Run API: names, ids, validation at the call, never raising for transport problems."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest

import emitter
from emitter._spool import Spool
from emitter.run import generate_name, new_run_id
from tests.helpers import free_port, wait_for


@pytest.fixture
def offline_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A run whose Redis does not exist: everything it logs goes to the spool."""
    monkeypatch.setenv("RUNWATCH_FLUSH_TIMEOUT", "2")
    run = emitter.init("unit", redis_url=f"redis://127.0.0.1:{free_port()}/0", home=tmp_path / "home")
    yield run
    if not run.finished:
        run.finish()


def test_a_generated_name_follows_project_date_slug():
    name = generate_name("cifar", dt.date(2026, 11, 26))
    assert re.fullmatch(r"cifar_2026-11-26_[a-z]+-[a-z]+", name)


def test_run_ids_are_unique_and_sort_by_creation_time():
    ids = []
    for _ in range(5):
        ids.append(new_run_id())
        time.sleep(0.002)
    assert len(set(ids)) == 5
    assert ids == sorted(ids)
    assert all(len(i) == 26 for i in ids)


def test_init_without_a_name_generates_one(offline_run):
    assert offline_run.name.startswith(f"unit_{dt.date.today().isoformat()}_")


@pytest.mark.parametrize(
    ("values", "error", "message"),
    [
        ({"loss": "0.5"}, TypeError, "'loss': str '0.5' is not a number"),
        ({"loss": None}, TypeError, "is not a number"),
        ({"loss": object()}, TypeError, "is not a number"),
        ({"": 1.0}, ValueError, "must not be empty"),
        ({"x" * 251: 1.0}, ValueError, "251 characters; the limit is 250"),
        ({3: 1.0}, TypeError, "metric names must be strings"),
        ({}, ValueError, "at least one metric"),
        ([("loss", 1.0)], TypeError, "mapping of metric name to number"),
    ],
)
def test_programming_errors_raise_at_the_call_with_a_clear_message(offline_run, values, error, message):
    with pytest.raises(error, match=re.escape(message)):
        offline_run.log(values)


def test_a_bad_value_does_not_poison_the_rest_of_the_run(offline_run):
    with pytest.raises(TypeError):
        offline_run.log({"loss": "nan"})
    offline_run.log({"loss": 1.0})  # still fine


def test_numpy_scalars_and_objects_with_float_are_accepted(offline_run):
    class Tensor:
        def __float__(self) -> float:
            return 0.25

    offline_run.log({"a": np.float32(0.5), "b": np.int64(3), "c": Tensor(), "d": True, "e": 7}, step=np.int64(4))
    event = offline_run._sender._queue[-1]
    assert event[3] == {"step": 4, "values": {"a": 0.5, "b": 3.0, "c": 0.25, "d": 1.0, "e": 7.0}}
    assert all(type(v) is float for v in event[3]["values"].values())


def test_step_auto_increments_and_follows_explicit_steps(offline_run):
    offline_run.log({"x": 1.0})
    offline_run.log({"x": 1.0})
    offline_run.log({"x": 1.0}, step=10)
    offline_run.log({"x": 1.0})
    steps = [e[3]["step"] for e in offline_run._sender._queue if e[2] == "metrics"]
    assert steps == [0, 1, 10, 11]


def test_more_distinct_keys_than_the_limit_is_an_error(tmp_path):
    run = emitter.init("unit", redis_url=f"redis://127.0.0.1:{free_port()}/0", home=tmp_path, max_keys=3)
    run.log({"a": 1.0, "b": 2.0, "c": 3.0})
    with pytest.raises(ValueError, match="already has 3 distinct metric names"):
        run.log({"d": 4.0})
    run.log({"a": 5.0})  # known keys still log
    run.finish()


def test_config_and_notes_over_one_mebibyte_are_rejected(tmp_path):
    url = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(ValueError, match="config is .* bytes encoded; the limit is 1048576"):
        emitter.init("unit", redis_url=url, home=tmp_path, config={"blob": "x" * (1 << 20)})
    with pytest.raises(ValueError, match="notes is .* bytes; the limit is 1048576"):
        emitter.init("unit", redis_url=url, home=tmp_path, notes="x" * ((1 << 20) + 1))


def run_start_of(run: Any) -> list[Any]:
    """The run.start event as the sender got it: finish, then read it from the spool (Redis is away)."""
    run.finish()
    for segment in Spool(run.home / "spool").segments():
        _run_id, body = segment.read()
        _writer, events = msgpack.unpackb(body, raw=False)
        for event in events:
            if event[2] == "run.start":
                return event
    raise AssertionError("no run.start in the spool")


def test_config_values_become_plain_data(offline_run, tmp_path):
    run = emitter.init(
        "unit",
        redis_url=offline_run.redis_url,
        home=tmp_path / "h2",
        config={"lr": np.float64(0.1), "path": Path("/data"), "layers": (1, 2), "nested": {"a": np.int32(2)}},
    )
    start = run_start_of(run)
    assert start[3]["config"] == {"lr": 0.1, "path": "/data", "layers": [1, 2], "nested": {"a": 2}}


def test_run_start_captures_the_environment(offline_run):
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


def test_an_unexpected_error_in_the_sender_loses_nothing(emitter_env, collector, store, monkeypatch, caplog):
    """Not only transport errors: whatever the sender hits, it spools, retries, and delivers.

    (Seen for real: a child forked while the parent's sender imported encodings.idna got
    ``LookupError: unknown encoding: idna`` from getaddrinfo, and its sender thread died.)
    """
    from emitter import _sender

    real_connect = _sender.connect
    failures = iter([LookupError("unknown encoding: idna")])

    def connect_failing_once(url: str) -> Any:
        for exc in failures:
            raise exc
        return real_connect(url)

    monkeypatch.setattr(_sender, "connect", connect_failing_once)
    run = emitter.init("sender-survives")
    for step in range(100):
        run.log({"loss": float(step)}, step=step)
    wait_for(lambda: store.series.count_points(run.id) == 100, what="every point, after the failed connect")
    assert "unexpected error while sending" in caplog.text and "LookupError" in caplog.text
    run.finish()
