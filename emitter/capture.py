"""What ``run.start`` records about the process: code version, machine and packages.

Every probe is best-effort and time-boxed: a missing git or nvidia-smi yields ``None``,
never an exception in training code.

Everything recorded is shown to every viewer of the run, so credentials are replaced with
``***`` here, before anything is sent or spooled: the password (or, over HTTP, the token
given as the user name) in a URL; the value of a command-line option whose name ends in a
word that names a credential (``--api-key X``, ``--token=X``, ``db.password=X``; not
``--tokenizer``, ``--max-tokens``, ``--password-file``, nor one-letter options like ``-p``,
which mean something else to every program); and anything shaped like a well-known secret
(Slack, GitHub, GitLab, AWS, OpenAI, Anthropic, Hugging Face, Google, Stripe keys, JWTs,
``Bearer`` values, Slack webhook paths). No environment variable is recorded.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
from importlib import metadata
from typing import Any


def capture_environment() -> dict[str, Any]:
    """A snapshot of the running process' environment, JSON- and MessagePack-safe."""
    return {
        "git": _git(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "user": _user(),
        "pid": os.getpid(),
        "argv": redact_argv(sys.argv),
        "cwd": redact_text(os.getcwd()),
        "cpu_count": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
        "gpus": _gpus(),
        "packages": _packages(),
    }


def _run(*command: str) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=3, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _git() -> dict[str, Any] | None:
    if shutil.which("git") is None:
        return None
    commit = _run("git", "rev-parse", "HEAD")
    if commit is None:
        return None
    status = _run("git", "status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "branch": _run("git", "rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(status) if status is not None else None,
        "remote": _redacted(_run("git", "config", "--get", "remote.origin.url")),
        "diff_hash": _diff_hash() if status else None,
    }


# ``git diff HEAD`` spelled so that the user's configuration cannot change its bytes: no colour,
# external diff or textconv, fixed prefixes, full blob ids, no rename detection, paths from the root.
_DIFF = (
    "git", "-c", "core.quotepath=on", "diff", "HEAD", "--no-color", "--no-ext-diff", "--no-textconv",
    "--no-renames", "--full-index", "--no-relative", "--src-prefix=a/", "--dst-prefix=b/",
)  # fmt: skip


def _diff_hash() -> str | None:
    """SHA-256 of the tracked changes on top of the commit (``git diff HEAD``): with ``commit``, exactly which code.

    Untracked files are not in it (``dirty`` ignores them too). None when git fails or takes
    more than 3 s; never raises.
    """
    try:
        done = subprocess.run(_DIFF, capture_output=True, timeout=3, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return hashlib.sha256(done.stdout).hexdigest() if done.returncode == 0 else None


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _gpus() -> list[str]:
    if shutil.which("nvidia-smi") is None:
        return []
    names = _run("nvidia-smi", "--query-gpu=name", "--format=csv,noheader")
    return [line.strip() for line in names.splitlines() if line.strip()] if names else []


def _packages() -> dict[str, str]:
    packages: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            packages[name] = dist.version
    return dict(sorted(packages.items(), key=lambda item: item[0].lower()))


# ---------------------------------------------------------------- credentials

REDACTED = "***"

# A word that names a credential, alone or compounded (apikey, authtoken); plurals (--max-tokens) do not.
_CREDENTIAL_WORD = re.compile(
    r"(?:api|access|secret|private|auth|bearer|session|refresh|client|master|signing|oauth)?"
    r"(?:key|token|secret|password|passwd|pwd|passphrase|auth|credentials?)"
)
_NAME_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")  # api_key, apiKey, APIKey, db.password
_ASSIGNMENT = re.compile(r"(?P<name>[-+~]*[A-Za-z_][\w.\-]*)=(?P<value>.*)", re.DOTALL)
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^\s:/@]*)(?::(?P<password>[^\s/@]*))?@")
_KNOWN_SECRETS = [
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),  # Slack tokens
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),  # GitHub tokens
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{30,}"),
    re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}"),  # GitLab
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"\bsk-[A-Za-z0-9_\-]{20,}"),  # OpenAI, Anthropic (sk-ant-...)
    re.compile(r"\bhf_[A-Za-z0-9]{30,}"),  # Hugging Face
    re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"),  # Google API keys
    re.compile(r"\b[sr]k_(?:live|test)_[0-9A-Za-z]{16,}"),  # Stripe
    re.compile(r"\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}"),  # JWTs
    re.compile(r"(?P<keep>(?i:\bbearer)\s+)[A-Za-z0-9._~+/\-]+=*"),
    re.compile(r"(?P<keep>hooks\.slack\.com/services/)\S+"),
]


def redact_text(text: str) -> str:
    """``text`` with the credentials of URLs in it and well-known secret shapes replaced by ``***``."""
    text = _URL_USERINFO.sub(_without_credentials, text)
    for pattern in _KNOWN_SECRETS:
        text = pattern.sub(_redacted_match, text)
    return text


def redact_argv(argv: list[str]) -> list[str]:
    """A command line with the values of credential options (and any secret-shaped text) replaced by ``***``."""
    shown: list[str] = []
    value_follows = False
    for arg in argv:
        if value_follows and not arg.startswith("--"):  # "--" starts the next option, not a value
            shown.append(REDACTED)
            value_follows = False
            continue
        value_follows = False
        assignment = _ASSIGNMENT.fullmatch(arg)
        if assignment is not None and _names_a_credential(assignment["name"]):
            shown.append(f"{assignment['name']}={REDACTED}")
            continue
        if assignment is None and _is_long_option(arg) and _names_a_credential(arg):
            value_follows = True
        shown.append(redact_text(arg))
    return shown


def _redacted(text: str | None) -> str | None:
    return None if text is None else redact_text(text)


def _is_long_option(arg: str) -> bool:
    return arg.startswith("-") and len(arg.lstrip("-")) > 1


def _names_a_credential(name: str) -> bool:
    words = _NAME_WORDS.findall(name)
    return bool(words) and _CREDENTIAL_WORD.fullmatch(words[-1].lower()) is not None


def _without_credentials(match: re.Match[str]) -> str:
    scheme, user, password = match["scheme"], match["user"], match["password"]
    if password is not None:
        return f"{scheme}{user}:{REDACTED}@"
    if user and scheme.lower() in ("http://", "https://"):  # GitHub and GitLab take a token as the user name
        return f"{scheme}{REDACTED}@"
    return match[0]  # ssh://git@host: an account name


def _redacted_match(match: re.Match[str]) -> str:
    keep = match.groupdict().get("keep") or ""
    return keep + REDACTED
