"""Secrets mounted as files, laid out the way Docker and Kubernetes lay them out, reach the
settings; environment variables still win over them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from medianest.config import SettingsError, load_settings

KEY = "k" * 40
DATABASE = "postgres://medianest:pw@db.internal:5432/medianest?sslmode=require"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("MEDIANEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def kubernetes_secret_volume(target: Path, values: dict[str, str]) -> None:
    """A Secret volume as the kubelet writes it: the files in a timestamped folder, a
    ``..data`` link to that folder, and one link per key through ``..data``."""
    target.mkdir()
    version = target / "..2026_12_07_13_00_00.000000001"
    version.mkdir()
    for name, value in values.items():
        (version / name).write_text(value)
    (target / "..data").symlink_to(version.name)
    for name in values:
        (target / name).symlink_to(f"..data/{name}")


def test_a_kubernetes_secret_volume_supplies_the_settings(tmp_path, monkeypatch) -> None:
    secrets = tmp_path / "medianest"
    kubernetes_secret_volume(
        secrets,
        {"secret_key": KEY, "database_url": DATABASE, "redis_url": "rediss://:pw@r:6380/0"},
    )
    monkeypatch.setenv("MEDIANEST_SECRETS_DIR", str(secrets))
    settings = load_settings()
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == KEY
    assert settings.database_url == DATABASE
    assert settings.mode == "scaled"


def test_docker_secret_files_with_a_final_newline_supply_the_settings(
    tmp_path, monkeypatch
) -> None:
    secrets = tmp_path / "run-secrets"
    secrets.mkdir()
    (secrets / "secret_key").write_text(KEY + "\n")
    (secrets / "database_url").write_text(DATABASE + "\n")
    monkeypatch.setenv("MEDIANEST_SECRETS_DIR", str(secrets))
    settings = load_settings()
    assert settings.database_url == DATABASE
    assert settings.secret_key is not None and settings.secret_key.get_secret_value() == KEY


def test_the_environment_wins_over_a_secret_file(tmp_path, monkeypatch) -> None:
    secrets = tmp_path / "run-secrets"
    secrets.mkdir()
    (secrets / "redis_url").write_text("redis://from-file:6379/0\n")
    monkeypatch.setenv("MEDIANEST_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("MEDIANEST_REDIS_URL", "redis://from-env:6379/0")
    assert load_settings().redis_url == "redis://from-env:6379/0"


def test_a_bad_secret_file_is_named_without_its_value(tmp_path, monkeypatch) -> None:
    secrets = tmp_path / "run-secrets"
    secrets.mkdir()
    (secrets / "secret_key").write_text("too-short-a-key\n")
    monkeypatch.setenv("MEDIANEST_SECRETS_DIR", str(secrets))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    [problem] = caught.value.problems
    assert problem.startswith("secret_key [MEDIANEST_SECRET_KEY]: ")
    assert "too-short-a-key" not in problem
