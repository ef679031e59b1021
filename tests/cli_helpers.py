"""Running the ``medianest`` command as a person would, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MEDIANEST = [str(Path(sys.executable).with_name("medianest"))]


def clean_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The current environment without MEDIANEST_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIANEST_")}
    env.update(
        {
            "MEDIANEST_DATA_DIR": str(tmp_path / "data"),
            "MEDIANEST_SECRETS_DIR": str(tmp_path / "no-secrets"),
            **extra,
        }
    )
    return env


def medianest(tmp_path: Path, *args: str, timeout: float = 60, **env: str):
    """Run ``medianest ARGS`` in ``tmp_path``; returns the completed process."""
    return subprocess.run(
        [*MEDIANEST, *args],
        cwd=tmp_path,
        env=clean_environment(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
