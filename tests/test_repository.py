"""The repository tracks sources only: nothing it tells git to ignore is committed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str:
    git = shutil.which("git")
    assert git is not None, "git is needed to check what the repository tracks"
    return subprocess.run(
        [git, *args], cwd=ROOT, check=True, capture_output=True, text=True, timeout=60
    ).stdout


def test_no_tracked_file_matches_gitignore() -> None:
    """Generated files (demo data, keys, caches) stay out of the tree once ignored."""
    assert _git("rev-parse", "--is-inside-work-tree").strip() == "true"
    tracked_but_ignored = _git("ls-files", "--cached", "--ignored", "--exclude-standard")
    assert tracked_but_ignored.split() == [], (
        "tracked files that .gitignore excludes (git rm --cached them): "
        + ", ".join(tracked_but_ignored.split())
    )


def test_the_demo_keeps_its_state_out_of_the_tree() -> None:
    """``make demo`` writes its database and secret key under ``.demo/``, which is ignored."""
    ignored = _git("check-ignore", "--no-index", ".demo/secret_key", ".demo/medianest.sqlite3")
    assert ignored.split() == [".demo/secret_key", ".demo/medianest.sqlite3"]
