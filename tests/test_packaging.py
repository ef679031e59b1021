"""The distribution as a wheel ships: the four mapped packages, data files, entry points."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

# Every test here starts processes of its own (`-m "not slow"` leaves them out).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_maps_the_folders_into_the_medianest_namespace(tmp_path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("medianest-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "medianest/core/app.py",
        "medianest/core/db/migrations/0001_initial.py",
        "medianest/core/db/migrations/0002_users_and_identities.py",
        "medianest/core/web/templates/signin.html",
        "medianest/core/web/static/signin.js",
        "medianest/core/web/static/app.css",
        "medianest/core/web/templates/base.html",
        "medianest/core/web/templates/account/profile.html",
        "medianest/core/web/locale/fr/LC_MESSAGES/messages.po",
        "medianest/core/web/pages/shell.py",
        "medianest/sdk/hookspecs.py",
        "medianest/sdk/py.typed",
        "medianest/sdk/testing/contract.py",
        "medianest/config/settings.py",
        "medianest/workers/arq_worker.py",
    ):
        assert expected in names, expected
    assert not any(name.startswith(("tests/", "plugins/", "core/")) for name in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "medianest = medianest.core.cli:main" in text
    assert "[pytest11]" in text and "medianest.sdk.testing.plugin" in text
