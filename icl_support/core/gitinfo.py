"""Which commit a record was made at: the one definition of "dirty" (tracked files changed; untracked ones ignored)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_commit(cwd: str | Path = ".") -> str:
    """The checkout's commit (``+dirty`` when tracked files have changes), or ``"unknown"`` outside git."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True
        ).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
