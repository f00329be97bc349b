"""Input checks at the call: programming errors raise there with a clear message, good values become plain data."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import emitter
from tests.helpers import free_port


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


@pytest.mark.parametrize("step", [1.5, "3", np.float64(2.0)])
def test_a_step_that_is_not_an_integer_is_an_error(offline_run, step):
    with pytest.raises(TypeError, match="step must be an integer"):
        offline_run.log({"x": 1.0}, step=step)


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


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"project": ""}, ValueError, "project must be a non-empty string"),
        ({"project": "  "}, ValueError, "project must be a non-empty string"),
        ({"run_id": ""}, ValueError, "run_id must be a non-empty string of at most 250 characters"),
        ({"run_id": "r" * 251}, ValueError, "run_id must be a non-empty string of at most 250 characters"),
        ({"group": 3}, TypeError, "group must be a string"),
        ({"tags": ["ok", ""]}, ValueError, "tags must be non-empty strings"),
        ({"notes": b"bytes"}, TypeError, "notes must be a string"),
        ({"config": [("lr", 0.1)]}, TypeError, "config must be a mapping"),
        ({"config": {"": 1}}, ValueError, "config keys must be non-empty"),
    ],
)
def test_bad_init_arguments_raise_before_anything_is_sent(tmp_path, options, error, message):
    arguments = {"project": "unit", "redis_url": f"redis://127.0.0.1:{free_port()}/0", "home": tmp_path, **options}
    with pytest.raises(error, match=re.escape(message)):
        emitter.init(**arguments)
    assert not (tmp_path / "spool").exists()  # no sender was started


def test_config_nested_too_deep_is_an_error(tmp_path):
    config: dict[str, object] = {}
    inner = config
    for _ in range(40):
        inner["a"] = {}
        inner = inner["a"]  # type: ignore[assignment]
    with pytest.raises(ValueError, match="nested more than 32 levels deep"):
        emitter.init("unit", redis_url=f"redis://127.0.0.1:{free_port()}/0", home=tmp_path, config=config)


def test_config_values_become_plain_data(offline_run, tmp_path, run_start_of):
    run = emitter.init(
        "unit",
        redis_url=offline_run.redis_url,
        home=tmp_path / "h2",
        config={"lr": np.float64(0.1), "path": Path("/data"), "layers": (1, 2), "nested": {"a": np.int32(2)}},
    )
    start = run_start_of(run)
    assert start[3]["config"] == {"lr": 0.1, "path": "/data", "layers": [1, 2], "nested": {"a": 2}}


def test_params_tags_notes_and_alerts_are_checked_at_the_call(offline_run):
    with pytest.raises(TypeError, match="params must be a mapping"):
        offline_run.log_params([("lr", 0.1)])
    with pytest.raises(ValueError, match="tags must be non-empty strings"):
        offline_run.set_tags("x" * 251)
    with pytest.raises(TypeError, match="note must be a string"):
        offline_run.note(42)
    with pytest.raises(ValueError, match="title is .* bytes; the limit is 1048576"):
        offline_run.alert("x" * ((1 << 20) + 1))
    with pytest.raises(ValueError, match=re.escape("alert level must be one of info, warn, error, critical")):
        offline_run.alert("hello", level="fatal")
    offline_run.set_tags("one-string-is-one-tag")
    assert offline_run._sender._queue[-1][3] == {"tags": ["one-string-is-one-tag"]}


@pytest.mark.parametrize("status", ["running", "lost", "done", None])
def test_finish_takes_only_a_status_that_ends_a_run(offline_run, status):
    with pytest.raises(ValueError, match=re.escape("status must be finished, failed or killed")):
        offline_run.finish(status)
    assert not offline_run.finished
    offline_run.finish("killed")  # still ends normally
    assert offline_run.finished
