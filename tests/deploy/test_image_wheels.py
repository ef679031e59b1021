"""The wheels the image's builder stage makes: the projects its `pip wheel` step names build,
and each plugin's wheel carries the entry point the hub loads it by."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile

import pytest

from tests.deploy.deploy_files import DOCKERFILE, ROOT, dockerfile_instructions

# It starts pip (`-m "not slow"` leaves it out).
pytestmark = pytest.mark.slow


def _projects() -> list[str]:
    [step] = [
        ins.text
        for ins in dockerfile_instructions(DOCKERFILE)
        if ins.keyword == "RUN" and "pip wheel" in ins.text
    ]
    args = [arg.strip('"') for arg in step.split()]
    return [arg for arg in args if arg in (".", ".[tracing]") or arg.startswith("./")]


def test_the_builder_stage_wheels_build_and_carry_their_entry_points(tmp_path) -> None:
    projects = _projects()
    assert projects[0] == ".[tracing]"  # the hub with its tracing extra
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
            "--wheel-dir",
            str(tmp_path),
            *(str(ROOT / project) for project in projects),
        ],
        check=True,
        capture_output=True,
        timeout=300,
        cwd=ROOT,
    )
    wheels = {path.name.split("-")[0]: path for path in tmp_path.glob("*.whl")}
    expected = {"medianest"} | {
        "medianest_" + project.rsplit("/", 1)[1] for project in projects[1:]
    }
    assert set(wheels) == expected
    for name, wheel in wheels.items():
        files = zipfile.ZipFile(wheel).namelist()
        shipped = [f for f in files if f.endswith(".dist-info/entry_points.txt")]
        text = zipfile.ZipFile(wheel).read(shipped[0]).decode() if shipped else ""
        if name == "medianest":
            assert "medianest = medianest.core.cli:main" in text
            continue
        assert any(f.startswith(f"{name}/") for f in files), f"{name}: no package in the wheel"
        # Each plugin entry point its project declares is in its wheel (a plugin still
        # without one is a package only: it loads nothing yet).
        project = ROOT / "plugins" / name.removeprefix("medianest_") / "pyproject.toml"
        declared = tomllib.loads(project.read_text())["project"].get("entry-points", {})
        for key, target in declared.get("medianest.plugins", {}).items():
            assert f"{key} = {target}" in text, f"{name}: entry point {key} not shipped"
    plex = ROOT / "plugins" / "plex" / "pyproject.toml"
    assert "medianest.plugins" in tomllib.loads(plex.read_text())["project"]["entry-points"]
