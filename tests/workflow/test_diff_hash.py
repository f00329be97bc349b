"""``env.git.diff_hash``: the SHA-256 of ``git diff HEAD``, so "which code" has an exact answer for a dirty tree."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from collector.cli import main
from emitter.capture import capture_environment
from tests.helpers import need_binary


@pytest.fixture(autouse=True)
def _git_installed() -> None:
    need_binary("git")  # a skip locally, a failure under RUNWATCH_TEST_STRICT=1


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _repo(path: Path) -> Path:
    path.mkdir()
    _git(path, "init", "-q")
    (path / "train.py").write_text("lr = 0.1\n")
    _git(path, "add", "train.py")
    _git(path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "first")
    return path


def _git_env(repo: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    monkeypatch.chdir(repo)
    git = capture_environment()["git"]
    assert isinstance(git, dict)
    return git


def test_a_clean_tree_has_no_diff_hash(tmp_path, monkeypatch):
    git = _git_env(_repo(tmp_path / "repo"), monkeypatch)
    assert git["dirty"] is False and git["diff_hash"] is None


def test_the_same_change_hashes_the_same_and_another_change_differently(tmp_path, monkeypatch):
    repo = _repo(tmp_path / "repo")
    (repo / "train.py").write_text("lr = 0.3\n")
    first = _git_env(repo, monkeypatch)["diff_hash"]
    assert isinstance(first, str) and len(first) == 64
    _git(repo, "config", "diff.noprefix", "true")  # a user's configuration does not change the hash
    _git(repo, "config", "color.diff", "always")
    assert _git_env(repo, monkeypatch)["diff_hash"] == first
    (repo / "train.py").write_text("lr = 0.5\n")
    assert _git_env(repo, monkeypatch)["diff_hash"] != first


def test_staged_changes_count_and_untracked_files_do_not(tmp_path, monkeypatch):
    repo = _repo(tmp_path / "repo")
    (repo / "notes.txt").write_text("scratch\n")
    assert _git_env(repo, monkeypatch)["diff_hash"] is None
    (repo / "train.py").write_text("lr = 0.3\n")
    _git(repo, "add", "train.py")
    assert _git_env(repo, monkeypatch)["diff_hash"] is not None


def test_outside_a_repository_or_without_git_nothing_fails(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert capture_environment()["git"] is None
    monkeypatch.setenv("PATH", str(tmp_path / "no-binaries"))
    assert capture_environment()["git"] is None


def test_runwatch_show_names_the_diff_of_a_dirty_run(fake_run, home):
    fake_run(
        "cifar",
        name="dirty",
        env={"git": {"commit": "a" * 40, "dirty": True, "diff_hash": "9f86d081884c7d65" + "0" * 48}},
    )
    output = CliRunner().invoke(main, ["show", "dirty", "--home", str(home)]).output
    assert "git aaaaaaaaaa (dirty, diff 9f86d081884c…)" in output
