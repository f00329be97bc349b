"""What run.start records about the process, and the credentials it never records."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import emitter
from emitter._spool import Spool
from emitter.capture import redact_argv, redact_text
from tests.helpers import free_port

GHP = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
SLACK = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
AWS = "AKIA" + "IOSFODNN7EXAMPLE"
OPENAI = "sk-" + "proj-Abc123Def456Ghi789Jkl012Mno345"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://oauth2:glpat-SeCrEt123@gitlab.com/g/p.git", "https://oauth2:***@gitlab.com/g/p.git"),
        ("https://user:pass@example.com/r.git", "https://user:***@example.com/r.git"),
        ("ssh://user:pass@host:2222/r.git", "ssh://user:***@host:2222/r.git"),
        (f"https://{GHP}@github.com/o/r.git", "https://***@github.com/o/r.git"),  # a token as the user name
        ("https://alice@bitbucket.org/t/r.git", "https://***@bitbucket.org/t/r.git"),
        ("postgres://u:pw@db:5432/x", "postgres://u:***@db:5432/x"),
        ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
        # no credentials: unchanged
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("ssh://git@host/r.git", "ssh://git@host/r.git"),
        ("https://github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://host:8443/path/x@y", "https://host:8443/path/x@y"),
    ],
)
def test_credentials_in_urls_are_redacted(url, shown):
    assert redact_text(url) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (SLACK, "***"),
        (GHP, "***"),
        ("github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "***"),
        ("glpat-" + "AbCdEfGhIjKlMnOpQrSt", "***"),
        (AWS, "***"),
        (OPENAI, "***"),
        ("sk-ant-" + "api03-AbCdEfGhIjKlMnOpQrStUv", "***"),
        ("hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz012345", "***"),
        ("AIza" + "SyA-1234567890abcdefghijklmnopqrstu", "***"),
        ("Authorization: Bearer abc.def-ghi_123456", "Authorization: Bearer ***"),
        ("https://hooks.slack.com/services/T000/B000/XXXXXXXX", "https://hooks.slack.com/services/***"),
        (f"token is {GHP} here", "token is *** here"),
        # look alike, are not
        ("sk-learn", "sk-learn"),
        ("resnet50_AKIA", "resnet50_AKIA"),
        ("0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01234567"),  # a commit
    ],
)
def test_values_that_look_like_well_known_secrets_are_redacted(text, shown):
    assert redact_text(text) == shown


def test_argv_values_of_credential_flags_are_redacted_and_other_flags_kept():
    argv = [
        "train.py",
        "--api-key",
        "abc123",
        "--token=xyz",
        "--password",
        "hunter2",
        "--aws_secret_access_key",
        "wJalrXUtnFEMI",
        "--hfToken",
        "plain-text-token",
        "-api_key",
        "go-style",
        "db.password=from-hydra",
        "+wandb.key=also",
        "--use-auth-token",  # a flag without a value: the next option is not its value
        "--tokenizer",
        "gpt2",
        "--max-tokens",
        "2048",
        "--key-dim",
        "64",
        "--author",
        "Ada",
        "--password-file",
        "/run/secrets/db",
        "-p",
        "8080",  # one letter means something else to every program: kept
        "--db-url",
        "postgres://u:pw@h/db",
        SLACK,
        "lr=0.1",
    ]
    assert redact_argv(argv) == [
        "train.py",
        "--api-key",
        "***",
        "--token=***",
        "--password",
        "***",
        "--aws_secret_access_key",
        "***",
        "--hfToken",
        "***",
        "-api_key",
        "***",
        "db.password=***",
        "+wandb.key=***",
        "--use-auth-token",
        "--tokenizer",
        "gpt2",
        "--max-tokens",
        "2048",
        "--key-dim",
        "64",
        "--author",
        "Ada",
        "--password-file",
        "/run/secrets/db",
        "-p",
        "8080",
        "--db-url",
        "postgres://u:***@h/db",
        "***",
        "lr=0.1",
    ]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_run_start_never_carries_the_credentials_of_the_remote_or_argv(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "first")
    _git(repo, "remote", "add", "origin", "https://oauth2:glpat-SeCrEt123@gitlab.com/g/p.git")
    monkeypatch.chdir(repo)
    monkeypatch.setattr(sys, "argv", ["train.py", "--api-key", "abc123", "--token", SLACK, "--lr", "0.1"])
    monkeypatch.setenv("RUNWATCH_FLUSH_TIMEOUT", "1")
    run = emitter.init("secrets", redis_url=f"redis://127.0.0.1:{free_port()}/0", home=tmp_path / "home")
    run.finish()
    spooled = b"".join(segment.path.read_bytes() for segment in Spool(tmp_path / "home" / "spool").segments())
    assert b"run.start" in spooled and b"gitlab.com/g/p.git" in spooled
    for secret in (b"glpat-SeCrEt123", b"abc123", SLACK.encode()):
        assert secret not in spooled  # never sent, never spooled
    assert b"https://oauth2:***@gitlab.com/g/p.git" in spooled
