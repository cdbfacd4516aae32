"""Where a results file came from: date, commit (or that there is none), and how it is said in a report.

One place for the bench, the comparison, the calibration and the zoo, so that every report names its commit
the same way, and a run outside a git checkout (an installed wheel, an unpacked archive) says so instead of
printing an empty commit. Standard library only: any tool may import it.
"""
from __future__ import annotations

import datetime
import os
import subprocess

UNKNOWN = "unknown commit (not a git checkout)"


def git_commit(path: str | None = None) -> str | None:
    """The short hash of HEAD of the checkout holding `path` (this package by default); None when there is no
    checkout (or no git)."""
    where = os.path.dirname(os.path.abspath(path or __file__))
    try:
        p = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                           cwd=where)
    except (OSError, subprocess.SubprocessError):
        return None
    sha = p.stdout.strip()
    return sha if p.returncode == 0 and sha else None


def now() -> str:
    return datetime.datetime.now().isoformat(timespec="seconds")


def known(commit) -> bool:
    """Whether a recorded commit names one (older files wrote "" or "unknown (not run from a git checkout)")."""
    return bool(commit) and not str(commit).startswith("unknown")


def at_commit(commit) -> str:
    """"at commit abc1234", or "unknown commit (not a git checkout)" for a run that had none."""
    return f"at commit {commit}" if known(commit) else UNKNOWN


def when_and_where(record: dict) -> str:
    """"2026-11-25T16:44:51 at commit 5a7480b" (or "..., unknown commit (not a git checkout)")."""
    date = record.get("date") or "an unknown date"
    c = record.get("commit")
    return f"{date} {at_commit(c)}" if known(c) else f"{date}, {UNKNOWN}"
