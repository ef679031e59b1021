"""The linters `make validate-deploy` runs (and `make lint` with it) pass on the deployment
files, and fail on the mistakes they are there to catch: CI would notice a broken file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.deploy_files import (
    COMPOSE_FILE,
    DOCKERFILE,
    KUBERNETES_VERSION,
    kubernetes_files,
)

BIN = Path(sys.executable).parent


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN / "hadolint", "--no-color", str(path)], capture_output=True, text=True, timeout=60
    )


def compose_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def kubernetes_validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            BIN / "kubernetes-validate",
            "--kubernetes-version",
            KUBERNETES_VERSION,
            "--strict",
            "--quiet",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_makefile_validates_what_these_tests_do() -> None:
    makefile = (DOCKERFILE.parents[1] / "Makefile").read_text()
    assert f"KUBERNETES_VERSION ?= {KUBERNETES_VERSION}" in makefile
    assert "lint: $(STAMP) validate-deploy" in makefile


def test_the_dockerfile_has_no_hadolint_finding() -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr
    for line in DOCKERFILE.read_text().splitlines():
        if "hadolint ignore=" in line:
            # An ignored rule is justified by the comment lines right above it.
            lines = DOCKERFILE.read_text().splitlines()
            above = lines[lines.index(line) - 1]
            assert above.startswith("#") and "hadolint" not in above, line


def test_hadolint_catches_an_unpinned_install(tmp_path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM python:3.11-slim\nRUN apt-get update && apt-get install -y gcc\n"
        "RUN pip install medianest\n"
    )
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3008" in result.stdout and "DL3013" in result.stdout


def test_the_compose_file_meets_the_compose_specification() -> None:
    result = compose_schema(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_schema_catches_a_misspelled_key(tmp_path) -> None:
    bad = tmp_path / "compose.yaml"
    bad.write_text(COMPOSE_FILE.read_text().replace("    depends_on:\n", "    depend_on:\n", 1))
    result = compose_schema(bad)
    assert result.returncode != 0
    assert "depend_on" in result.stdout + result.stderr


def test_the_kubernetes_manifests_are_valid_for_the_stated_version() -> None:
    result = kubernetes_validate(*kubernetes_files())
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("change", "wrong"),
    [
        (
            ("terminationGracePeriodSeconds: 60", "terminationGracePeriod: 60"),
            "terminationGracePeriod",
        ),
        (("replicas: 3", "replicas: three"), "three"),
    ],
)
def test_kubernetes_validate_catches_a_wrong_field(tmp_path, change, wrong) -> None:
    source = next(p for p in kubernetes_files() if p.name == "api-deployment.yaml")
    bad = tmp_path / source.name
    bad.write_text(source.read_text().replace(*change))
    result = kubernetes_validate(bad)
    assert result.returncode != 0
    assert wrong in result.stdout + result.stderr
