"""The contract's artifact rules: payload types (``_check_artifact``) and safe names and paths."""

from __future__ import annotations

import pytest

from emitter.artifact_paths import clean_alias, clean_name, clean_path, clean_type, manifest_digest
from emitter.events import ContractError, decode_entry, encode_entry

GOOD = [
    ("model.pt", "model.pt"),
    ("checkpoints/epoch-3/model.pt", "checkpoints/epoch-3/model.pt"),
    ("données/été.txt", "données/été.txt"),
    ("cafe\u0301", "caf\u00e9"),  # NFC
    ("a..b/c.", "a..b/c."),
    ("epoch:3", "epoch:3"),
]
BAD = [
    "",
    "/etc/passwd",
    "../x",
    "a/../x",
    "a/./x",
    "a//x",
    "a/",
    "a\\x",
    "a\x00b",
    "a\nb",
    "a\x1b",
    "a\x7f",
    "a\x85",
    "%2e%2e/x",
    "a%2Fb",
    "\uff0e\uff0e/x",
    "\u2024\u2024/x",
    "a\u2215b",
    "a\uff0fb",
    "a\u202eb",
    "a\u200bb",
    "a\ufffd",
    "C:/x",
    "x" * 2000,
    "a/" + "b" * 300,
]


@pytest.mark.parametrize(("raw", "clean"), GOOD)
def test_safe_paths_are_kept_in_nfc(raw, clean):
    assert clean_path(raw) == clean


@pytest.mark.parametrize("raw", BAD, ids=[repr(b)[:30] for b in BAD])
def test_unsafe_paths_are_refused_with_a_reason(raw):
    with pytest.raises(ValueError):
        clean_path(raw)


def test_names_types_and_aliases():
    assert clean_name("samples/generated") == "samples/generated"
    with pytest.raises(ValueError):
        clean_name("x" * 200)
    assert clean_type("model") == "model"
    for bad in ("", "has space", "../x", 3):
        with pytest.raises(ValueError):
            clean_type(bad)
    assert clean_alias("best") == "best"
    for reserved in ("latest", "3", "v3"):
        with pytest.raises(ValueError, match="reserved"):
            clean_alias(reserved)


def test_the_digest_of_one_file_is_its_sha256_and_of_several_is_order_free():
    assert manifest_digest([("a", "f" * 64, 1)]) == "f" * 64
    files = [("a", "1" * 64, 1), ("b", "2" * 64, 2)]
    assert manifest_digest(files) == manifest_digest(reversed(files)) != manifest_digest(files[:1])


def _decode(payload):
    fields = encode_entry("r", "w", [[0, 1.0, "artifact", payload]])
    return decode_entry({str(k).encode(): v if isinstance(v, bytes) else str(v).encode() for k, v in fields.items()})


def test_the_original_artifact_payload_stays_valid_and_new_fields_are_type_checked():
    assert _decode({"name": "m", "uri": "s3://b/m", "size": 10, "sha256": None}).events[0].payload["size"] == 10
    good = {
        "name": "m",
        "uri": "runwatch:p/m",
        "type": "model",
        "aliases": ["best"],
        "metadata": {"epoch": 3},
        "files": [{"path": "m.bin", "sha256": "a" * 64, "size": 5}],
        "role": "output",
        "project": "p",
    }
    assert _decode(good).events[0].payload == good
    assert _decode({"name": "m", "uri": "x", "role": "input", "version": 2}).events[0].payload["version"] == 2
    cases: list[dict[str, object]] = [
        {"size": -1},
        {"aliases": "best"},
        {"metadata": []},
        {"role": "sideways"},
        {"version": 0},
        {"files": [{"path": "x", "sha256": "a", "size": "5"}]},
        {"files": {}},
        {"type": 3},
    ]
    for broken in cases:
        with pytest.raises(ContractError):
            _decode({"name": "m", "uri": "x", **broken})
