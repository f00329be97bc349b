"""Input checks at the call: what log() takes, drops (named, counted) or, for programming errors, raises."""

from __future__ import annotations

import re
import warnings
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import emitter
from tests.helpers import free_port, wait_for


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
def test_under_strict_mode_bad_metric_input_raises_at_the_call_with_a_clear_message(strict_run, values, error, message):
    with pytest.raises(error, match=re.escape(message)):
        strict_run.log(values)


def test_under_strict_mode_a_bad_value_does_not_poison_the_rest_of_the_run(strict_run):
    with pytest.raises(TypeError):
        strict_run.log({"loss": "nan"})
    strict_run.log({"loss": 1.0})  # still fine


def _last_metrics(run: emitter.Run) -> dict[str, object]:
    return next(e[3] for e in reversed(run._sender._queue) if e[2] == "metrics")


def _dropped_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if "dropped" in str(w.message)]


def test_a_value_that_is_not_a_number_is_dropped_with_one_warning_per_key_and_counted(offline_run):
    """log() never raises into the training loop for a value W&B would take (text, None, arrays)."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        offline_run.log({"loss": 0.5, "caption": "a cat", "nothing": None, "hist": np.arange(3.0), "obj": object()})
        offline_run.log({"loss": 0.4, "caption": "a dog", "hist": np.arange(3.0)})
    messages = _dropped_warnings(record)
    assert len(messages) == 4, messages  # one per key, not one per call
    assert any("'caption': str 'a cat' is not a number" in m for m in messages)
    assert any("'hist': ndarray of 3 values is not one number" in m for m in messages)
    assert all("RUNWATCH_STRICT=1" in m for m in messages)
    assert record[0].filename == __file__  # the warning points at the log() call
    assert _last_metrics(offline_run) == {"step": 1, "values": {"loss": 0.4}}
    assert offline_run.dropped_values == {"caption": 2, "nothing": 1, "hist": 2, "obj": 1}


def test_a_log_call_whose_values_are_all_dropped_sends_nothing_and_keeps_counting_steps(offline_run):
    with pytest.warns(UserWarning, match="dropped"):
        offline_run.log({"caption": "text only"})
    offline_run.log({})
    offline_run.log({"loss": 1.0})
    assert [e[3] for e in offline_run._sender._queue if e[2] == "metrics"] == [{"step": 2, "values": {"loss": 1.0}}]


def test_nested_mappings_are_flattened_with_slashes(offline_run):
    offline_run.log({"train": {"loss": 1, "acc": np.float32(0.5)}, "val": {"deep": {"x": 2.0}}, "lr": 0.1}, step=3)
    assert _last_metrics(offline_run) == {
        "step": 3,
        "values": {"train/loss": 1.0, "train/acc": 0.5, "val/deep/x": 2.0, "lr": 0.1},
    }


class _Tensor:
    """What a torch tensor offers log() (torch is not imported by the emitter, nor installed here)."""

    def __init__(self, *values: float) -> None:
        self.values = values

    def numel(self) -> int:
        return len(self.values)

    def item(self) -> float:
        if len(self.values) != 1:
            raise RuntimeError("a Tensor with more than one element cannot be converted to a scalar")
        return self.values[0]

    def size(self) -> tuple[int]:  # a method on torch tensors, not the element count
        return (len(self.values),)


def test_numpy_and_tensor_scalars_become_floats_without_importing_either(offline_run):
    offline_run.log(
        {
            "f32": np.float32(0.5),
            "f16": np.float16(0.25),
            "i64": np.int64(3),
            "bool_": np.bool_(True),
            "zero_d": np.array(1.5),
            "one_element": np.array([2.5]),  # no DeprecationWarning (warnings are errors here)
            "one_element_2d": np.array([[3.5]]),
            "tensor": _Tensor(4.5),
            "decimal": Decimal("0.125"),
            "fraction": Fraction(1, 4),
            "bool": True,
            "int": 7,
        }
    )
    values = _last_metrics(offline_run)["values"]
    assert values == {
        "f32": 0.5,
        "f16": 0.25,
        "i64": 3.0,
        "bool_": 1.0,
        "zero_d": 1.5,
        "one_element": 2.5,
        "one_element_2d": 3.5,
        "tensor": 4.5,
        "decimal": 0.125,
        "fraction": 0.25,
        "bool": 1.0,
        "int": 7.0,
    }
    assert all(type(v) is float for v in values.values())
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        offline_run.log({"vector": _Tensor(1.0, 2.0, 3.0), "huge": 10**400, "complex": 1j, "ok": 1.0})
    messages = _dropped_warnings(record)
    assert len(messages) == 3 and "'vector': _Tensor of 3 values is not one number" in messages[0], messages
    assert _last_metrics(offline_run)["values"] == {"ok": 1.0}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"": 1.0}, "must not be empty"),
        ({"x" * 251: 1.0}, "251 characters; the limit is 250"),
        ({3: 1.0}, "metric names must be strings"),
        ({"per_class": {0: 1.0}}, "metric names must be strings"),
    ],
)
def test_a_bad_key_is_dropped_like_a_bad_value(offline_run, values, message):
    """A key is data too (often built at run time): it never stops a training loop."""
    with pytest.warns(UserWarning, match=re.escape(message)):
        offline_run.log({**values, "ok": 1.0})
    assert _last_metrics(offline_run)["values"] == {"ok": 1.0}
    assert sum(offline_run.dropped_values.values()) == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda run: run.log([("loss", 1.0)]), "mapping of metric name to number"),
        (lambda run: run.log({"x": 1.0}, step=1.5), "step must be an integer"),
    ],
)
def test_a_call_of_the_wrong_shape_is_still_an_error(offline_run, call, message):
    """Not data but the call itself: it fails on the first call, where it is written."""
    with pytest.raises(TypeError, match=re.escape(message)):
        call(offline_run)


def test_dropped_values_are_counted_in_the_runs_params_for_the_api_and_dashboard(emitter_env, collector, store):
    run = emitter.init("dropped")
    with pytest.warns(UserWarning, match="dropped"):
        for step in range(3):
            run.log({"loss": 1.0 / (step + 1), "caption": f"step {step}"}, step=step)
        run.log({"hist": [1.0, 2.0]}, step=3)
    run.finish()
    stored = wait_for(lambda: (r := store.runs.get(run.id)) and r.status == "finished" and r, what="run ended")
    assert stored.params["runwatch/dropped_values"] == {"caption": 3, "hist": 1}
    assert store.series.count_points(run.id) == 3


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


def test_under_strict_mode_more_distinct_keys_than_the_limit_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNWATCH_STRICT", "1")
    run = emitter.init("unit", redis_url=f"redis://127.0.0.1:{free_port()}/0", home=tmp_path, max_keys=3)
    run.log({"a": 1.0, "b": 2.0, "c": 3.0})
    with pytest.raises(ValueError, match="already has 3 distinct metric names"):
        run.log({"d": 4.0})
    run.log({"a": 5.0})  # known keys still log
    run.finish()


def test_keys_past_the_limit_are_dropped_and_counted(tmp_path, monkeypatch):
    monkeypatch.delenv("RUNWATCH_STRICT", raising=False)
    run = emitter.init("unit", redis_url=f"redis://127.0.0.1:{free_port()}/0", home=tmp_path, max_keys=3)
    run.log({"a": 1.0, "b": 2.0, "c": 3.0})
    with pytest.warns(UserWarning, match=re.escape("already has 3 distinct metric names")):
        run.log({"d": 4.0, "a": 5.0})
    assert _last_metrics(run)["values"] == {"a": 5.0}
    assert run.dropped_values == {"d": 1}
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


def test_dropped_counts_are_bounded_and_reported_only_when_they_changed():
    from emitter._validate import DroppedValues

    dropped = DroppedValues("run-1")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert all(dropped.add(f"key_{i}", TypeError("not a number")) for i in range(150))  # each new key reports
        assert dropped.report() is not None
        assert not dropped.add("key_0", TypeError("not a number"))  # a known key counts; reported later
    assert len(record) == 101  # 100 keys, then one for every further key counted together
    report = dropped.report()
    assert report is not None
    counts = report["runwatch/dropped_values"]
    assert len(counts) == 101 and counts["(other keys)"] == 50 and counts["key_0"] == 2
    assert dropped.report() is None  # nothing new since
