"""What ``run.start`` records about the process: code version, machine and packages.

Every probe is best-effort and time-boxed: a missing git or nvidia-smi yields ``None``,
never an exception in training code.
"""

from __future__ import annotations

import getpass
import os
import platform
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
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
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
        "remote": _run("git", "config", "--get", "remote.origin.url"),
    }


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
