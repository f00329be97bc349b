"""The contract's derived facts, stated once in ``emitter.events``."""

from __future__ import annotations

import math
import struct

import pytest

from emitter.events import (
    ENDED_STATUSES,
    NONFINITE_JSON,
    VALUE_KINDS,
    Kind,
    RunStatus,
    json_number,
    parse_json_number,
    parse_stream_id,
    stream_id_seconds,
)


def test_value_kinds_are_metrics_and_system_only() -> None:
    assert {str(k) for k in VALUE_KINDS} == {"metrics", "system"}
    assert all(kind not in VALUE_KINDS for kind in Kind if kind not in (Kind.METRICS, Kind.SYSTEM))


def test_ended_statuses_exclude_running_and_lost() -> None:
    assert {str(s) for s in ENDED_STATUSES} == {"finished", "failed", "killed"}
    assert RunStatus.LOST not in ENDED_STATUSES and RunStatus.RUNNING not in ENDED_STATUSES


@pytest.mark.parametrize(
    ("value", "spelled"),
    [(math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity"), (1.5, 1.5), (-0.0, -0.0), (None, None)],
)
def test_json_number_spells_non_finite_values_as_strings(value: float | None, spelled: object) -> None:
    out = json_number(value)
    assert out == spelled or (isinstance(out, float) and isinstance(spelled, float) and math.isnan(out))
    if isinstance(value, float) and math.isfinite(value):
        assert struct.pack("<d", out) == struct.pack("<d", value)  # -0.0 stays -0.0


@pytest.mark.parametrize("spelled", sorted(NONFINITE_JSON))
def test_parse_json_number_inverts_json_number(spelled: str) -> None:
    parsed = parse_json_number(spelled)
    assert json_number(parsed) == spelled


@pytest.mark.parametrize("bad", ["nan", "inf", "+Inf", "1.5", True, None, [1.0], {}])
def test_parse_json_number_rejects_other_spellings_with_a_clear_error(bad: object) -> None:
    with pytest.raises(ValueError, match="not a number"):
        parse_json_number(bad)


def test_parse_json_number_takes_ints_and_floats() -> None:
    assert parse_json_number(3) == 3.0 and isinstance(parse_json_number(3), float)
    assert parse_json_number(-2.5) == -2.5


def test_stream_ids_order_numerically_not_as_text() -> None:
    assert parse_stream_id("1700000000000-10") > parse_stream_id("1700000000000-9")
    assert parse_stream_id(b"99-0") < parse_stream_id("100-0")
    assert parse_stream_id("42") == (42, 0)
    assert stream_id_seconds(b"1700000000123-4") == pytest.approx(1700000000.123)
