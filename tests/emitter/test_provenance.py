"""Data versions at init(): DVC's files and Git LFS pointers parsed (never run), malformed ones named.

The DVC files here are in the format ``dvc`` 3.x writes (``dvc init`` + ``dvc add`` +
``dvc stage add``/``dvc repro``); ``tests/emitter/dvc_repo/`` holds ones a real ``dvc``
wrote (see its README), so the reader is checked against the tool's own output too.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from emitter._provenance import (
    PARAM,
    Provenance,
    artifact_ref,
    dataset_entry,
    dataset_param,
    dvc_state,
    lfs_pointer,
    parse_dvc_yaml,
)

REAL_REPO = Path(__file__).parent / "dvc_repo"

DVC_FILE = """outs:
- md5: a304afb96060aad90176268345e10355
  size: 14445097
  hash: md5
  path: data.xml
"""

DVC_LOCK = """schema: '2.0'
stages:
  prepare:
    cmd: python src/prepare.py data/data.xml
    deps:
    - path: data/data.xml
      hash: md5
      md5: a304afb96060aad90176268345e10355
      size: 14445097
    - path: src/prepare.py
      hash: md5
      md5: f09ea0c15980b43010257ccb9f0055e2
      size: 1576
    params:
      params.yaml:
        prepare.seed: 20170428
        prepare.split: 0.2
    outs:
    - path: data/prepared
      hash: md5
      md5: 153aad06d376b6595932470e459ef42a.dir
      size: 8437363
      nfiles: 2
"""

DVC_CONFIG = """[core]
    remote = storage
['remote "storage"']
    url = s3://bucket/dvc-store
['remote "backup"']
    url = https://user:hunter2@dvc.example.com/store
"""

POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    "size 12345\n"
)


def make_repo(root: Path) -> Path:
    (root / ".dvc").mkdir(parents=True)
    (root / ".dvc" / "config").write_text(DVC_CONFIG)
    (root / "data").mkdir()
    (root / "data" / "data.xml.dvc").write_text(DVC_FILE)
    (root / "dvc.lock").write_text(DVC_LOCK)
    return root


def test_a_dvc_file_gives_its_outputs() -> None:
    assert parse_dvc_yaml(DVC_FILE) == [
        (("outs",), {"md5": "a304afb96060aad90176268345e10355", "size": "14445097", "hash": "md5", "path": "data.xml"})
    ]


def test_a_lock_file_gives_each_stage_deps_and_outs() -> None:
    items = parse_dvc_yaml(DVC_LOCK)
    assert [(keys, item["path"]) for keys, item in items] == [
        (("stages", "prepare", "deps"), "data/data.xml"),
        (("stages", "prepare", "deps"), "src/prepare.py"),
        (("stages", "prepare", "outs"), "data/prepared"),
    ]
    assert items[2][1]["md5"] == "153aad06d376b6595932470e459ef42a.dir"


def test_an_import_keeps_its_nested_repo_fields() -> None:
    text = (
        "md5: 1234\nfrozen: true\ndeps:\n- path: data.xml\n  repo:\n    url: https://github.com/iterative/dataset-registry\n"
        "    rev_lock: f31f5c4cdae787b4bdeb97a717687d44667d9e62\nouts:\n- md5: a304afb96060aad90176268345e10355\n"
        "  path: data.xml\n"
    )
    deps, outs = parse_dvc_yaml(text)
    assert deps[1]["repo.url"] == "https://github.com/iterative/dataset-registry"
    assert outs == (("outs",), {"md5": "a304afb96060aad90176268345e10355", "path": "data.xml"})


def test_the_dvc_state_of_a_repository(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    state = dvc_state(root / "data")  # from a folder inside: the repository's root is found
    assert state is not None
    assert state["root"] == str(root.resolve())
    assert state["files"] == {
        "data/data.xml": "a304afb96060aad90176268345e10355",
        "src/prepare.py": "f09ea0c15980b43010257ccb9f0055e2",
        "data/prepared": "153aad06d376b6595932470e459ef42a.dir",
    }
    assert state["remote"] == "s3://bucket/dvc-store"
    assert state["remotes"]["backup"] == "https://user:***@dvc.example.com/store"  # no credentials recorded
    assert "warnings" not in state


def test_outside_a_dvc_repository_there_is_nothing(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "src").mkdir()
    assert dvc_state(tmp_path / "src") is None


def test_what_a_dvc_file_tracks_is_never_walked(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    images = root / "data" / "images"
    (images / "deep").mkdir(parents=True)
    (images / "deep" / "not-ours.dvc").write_text(DVC_FILE)  # inside a tracked folder: not looked at
    (root / "data" / "images.dvc").write_text(DVC_FILE.replace("data.xml", "images").replace("10355", "10355.dir"))
    state = dvc_state(root)
    assert state is not None
    assert state["files"]["data/images"] == "a304afb96060aad90176268345e10355.dir"
    assert not any("deep" in path for path in state["files"])


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"outs:\n\t- md5: x\n", "data/bad.dvc: cannot read it (line 2: not DVC's YAML (tab indent or binary))"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "data/bad.dvc: cannot read it"),
        (b"{outs: [1, 2]}\n", "data/bad.dvc: cannot read it (line 1: expected 'key: value'"),
        (b"outs:\n- path: x.csv\n  size: 3\n", "data/bad.dvc: no md5 for 'x.csv'"),
        (b"outs:\n- md5: abc\n", "data/bad.dvc: an entry without path"),
        (b"frozen: true\n", "data/bad.dvc: no outs"),
    ],
)
def test_a_malformed_dvc_file_is_named_and_the_rest_is_recorded(tmp_path: Path, content: bytes, problem: str) -> None:
    root = make_repo(tmp_path / "repo")
    (root / "data" / "bad.dvc").write_bytes(content)
    state = dvc_state(root)
    assert state is not None
    assert any(w.startswith(problem) for w in state["warnings"]), state["warnings"]
    assert state["files"]["data/data.xml"] == "a304afb96060aad90176268345e10355"  # nothing else lost


def test_a_broken_dvc_config_is_a_warning(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    (root / ".dvc" / "config").write_text("this is [not an ini file\n")
    state = dvc_state(root)
    assert state is not None
    assert state["warnings"] == [".dvc/config: cannot read it (MissingSectionHeaderError)"]
    assert len(state["files"]) == 3


def test_the_dvc_files_a_real_dvc_wrote() -> None:
    state = dvc_state(REAL_REPO)
    assert state is not None, "tests/emitter/dvc_repo is a DVC repository"
    readme = (REAL_REPO / "README.md").read_text()
    expected = {line.split()[2]: line.split()[3] for line in readme.splitlines() if line.startswith("- tracked ")}
    assert expected and state["files"] == expected
    assert state["remote"] == "/tmp/runwatch-dvc-remote"
    assert "warnings" not in state


# ---------------------------------------------------------------- Git LFS


def test_an_lfs_pointer_gives_its_oid(tmp_path: Path) -> None:
    pointer = tmp_path / "weights.bin"
    pointer.write_text(POINTER)
    assert lfs_pointer(pointer) == {
        "oid": "sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393",
        "size": 12345,
    }
    plain = tmp_path / "plain.txt"
    plain.write_text("not a pointer")
    assert lfs_pointer(plain) is None


def test_a_malformed_lfs_pointer_is_refused() -> None:
    with pytest.raises(ValueError, match="without a valid oid and size"):
        path = Path(__file__).parent / "__broken_pointer__"
        try:
            path.write_text("version https://git-lfs.github.com/spec/v1\noid md5:zzz\nsize many\n")
            lfs_pointer(path)
        finally:
            path.unlink(missing_ok=True)


def collected(config: dict[str, object], data: object = None) -> dict[str, object]:
    emitted: list[dict[str, object]] = []
    provenance = Provenance.start(config, data, emitted.append)
    assert provenance.wait(30)
    return emitted[0] if emitted else {}


def test_lfs_pointers_named_in_config_or_data_are_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights.bin").write_text(POINTER)
    (tmp_path / "second.bin").write_text(POINTER.replace("4d7a", "5e8b"))
    (tmp_path / "broken.bin").write_text("version https://git-lfs.github.com/spec/v1\noid nope\n")
    config = {"model": {"init": str(tmp_path / "weights.bin")}, "lr": 0.1, "name": "not/a/file"}
    data = [tmp_path / "second.bin", str(tmp_path / "broken.bin")]
    result = collected(config, data)[PARAM]
    assert isinstance(result, dict)
    assert set(result["lfs"]) == {str(tmp_path / "weights.bin"), str(tmp_path / "second.bin")}
    assert result["warnings"] == [f"{tmp_path / 'broken.bin'}: a Git LFS pointer without a valid oid and size"]


def test_an_lfs_file_checked_out_in_full_is_hashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitattributes").write_text("*.bin filter=lfs diff=lfs merge=lfs -text\n")
    (tmp_path / "weights.bin").write_bytes(b"\x00\x01" * 1000)
    result = collected({"weights": "weights.bin"})[PARAM]
    assert isinstance(result, dict)
    oid = "sha256:" + hashlib.sha256(b"\x00\x01" * 1000).hexdigest()
    assert result["lfs"] == {"weights.bin": {"oid": oid, "size": 2000}}


def test_nothing_to_record_emits_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    assert collected({"lr": 0.1, "path": "missing.csv"}) == {}


def test_a_failure_inside_the_collector_never_reaches_training_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(make_repo(tmp_path / "repo"))

    def refuse(params: dict[str, object]) -> None:
        raise RuntimeError("run is finished")

    provenance = Provenance.start({}, None, refuse)
    assert provenance.wait(30)
    assert "could not record the data versions" in caplog.text


# ---------------------------------------------------------------- datasets


def test_a_dataset_records_its_uri_version_and_what_dvc_knows(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    shutil.copy(root / "data" / "data.xml.dvc", root / "data" / "train.csv.dvc")
    entry = dataset_entry(str(root / "data" / "train.csv"), "2026-11")
    assert entry == {
        "uri": str(root / "data" / "train.csv"),
        "version": "2026-11",
        "dvc_md5": "a304afb96060aad90176268345e10355",
    }
    assert dataset_entry("s3://bucket/imagenet/", None) == {"uri": "s3://bucket/imagenet/"}
    assert dataset_param("s3://bucket/imagenet/", None) == "dataset/imagenet"
    assert dataset_param("s3://bucket/imagenet/", "in1k") == "dataset/in1k"


def test_a_dataset_with_a_malformed_sidecar_is_still_recorded(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "train.csv").write_text("a,b\n")
    (tmp_path / "train.csv.dvc").write_text("outs:\n\t- md5: x\n")
    entry = dataset_entry(str(tmp_path / "train.csv"), None)
    assert entry["uri"] == str(tmp_path / "train.csv")
    assert "tab indent" in entry["warning"]
    assert "cannot read what DVC or LFS know of it" in caplog.text


@pytest.mark.parametrize(
    ("uri", "ref"),
    [
        ("runwatch:vision/imagenet:v3", ("vision", "imagenet", 3)),
        ("runwatch:imagenet:production", (None, "imagenet", "production")),
        ("runwatch:imagenet", (None, "imagenet", "latest")),
        ("s3://bucket/imagenet", None),
        ("runwatch:a/b/c", None),
    ],
)
def test_runwatch_artifact_references(uri: str, ref: object) -> None:
    assert artifact_ref(uri) == ref


def test_a_script_started_from_another_folder_records_its_own_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo(tmp_path / "repo")
    (root / "train.py").write_text("print('training')\n")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / ".git").mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    monkeypatch.setattr("sys.argv", [str(root / "train.py"), "--lr", "0.1"])
    result = collected({})[PARAM]
    assert isinstance(result, dict)
    assert result["dvc"]["root"] == str(root.resolve())


def test_data_versions_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(make_repo(tmp_path / "repo"))
    monkeypatch.setenv("RUNWATCH_DATA_VERSIONS", "0")
    assert collected({}) == {}
