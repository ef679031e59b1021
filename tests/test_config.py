"""Settings sources, priorities and the messages for bad values."""

from __future__ import annotations

import pytest

from medianest.config import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEDIANEST_SECRETS_DIR", str(tmp_path / "no-secrets"))


def test_defaults_are_embedded(tmp_path) -> None:
    settings = load_settings()
    assert settings.mode == "embedded"
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.server.port == 8080


def test_toml_file_env_and_overrides_in_priority_order(tmp_path, monkeypatch) -> None:
    config = tmp_path / "medianest.toml"
    config.write_text(
        'redis_url = "redis://file:6379/0"\n[server]\nport = 9000\nhost = "0.0.0.0"\n'
    )
    monkeypatch.setenv("MEDIANEST_SERVER__PORT", "9100")
    settings = load_settings()
    assert settings.redis_url == "redis://file:6379/0"
    assert settings.server.host == "0.0.0.0"
    assert settings.server.port == 9100
    assert load_settings(server={"port": 9200}).server.port == 9200
    assert settings.mode == "scaled"


def test_config_file_path_from_environment(tmp_path, monkeypatch) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text('[log]\nlevel = "debug"\n')
    monkeypatch.setenv("MEDIANEST_CONFIG", str(other))
    assert load_settings().log.level == "debug"


def test_missing_named_config_file_is_an_error(tmp_path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_broken_toml_says_where(tmp_path) -> None:
    bad = tmp_path / "medianest.toml"
    bad.write_text("[server\nport = 1\n")
    with pytest.raises(SettingsError, match="is not valid TOML"):
        load_settings()


def test_secrets_directory_supplies_values(tmp_path, monkeypatch) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "database_url").write_text("postgres://app:pw@db:5432/medianest")
    monkeypatch.setenv("MEDIANEST_SECRETS_DIR", str(secrets))
    assert load_settings().database_url == "postgres://app:pw@db:5432/medianest"


def test_plugin_sections_nest_from_environment(monkeypatch) -> None:
    monkeypatch.setenv("MEDIANEST_PLUGINS__HELLO__GREETING", "hey")
    monkeypatch.setenv("MEDIANEST_FEATURES__HELLO", "true")
    settings = load_settings()
    assert settings.plugins == {"hello": {"greeting": "hey"}}
    assert settings.features == {"hello": True}


def test_bad_values_name_setting_variable_and_problem(monkeypatch) -> None:
    monkeypatch.setenv("MEDIANEST_SERVER__PORT", "eighty")
    monkeypatch.setenv("MEDIANEST_DATABASE_URL", "mysql://x")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    problems = caught.value.problems
    assert any(
        p.startswith("server.port [MEDIANEST_SERVER__PORT]: ") and "'eighty'" in p for p in problems
    )
    assert any(
        p.startswith("database_url [MEDIANEST_DATABASE_URL]: ") and "sqlite://" in p
        for p in problems
    )


def test_unknown_variable_is_refused_not_ignored(monkeypatch) -> None:
    monkeypatch.setenv("MEDIANEST_REDIS_ULR", "redis://typo")
    with pytest.raises(SettingsError, match="MEDIANEST_REDIS_ULR is not a known setting"):
        load_settings()


def test_unknown_nested_setting_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("MEDIANEST_SERVER__PROT", "1")
    with pytest.raises(
        SettingsError, match=r"server\.prot \[MEDIANEST_SERVER__PROT\]: is not a known"
    ):
        load_settings()


def test_plugin_values_are_not_echoed(monkeypatch) -> None:
    from medianest.core.hub import build_hub

    monkeypatch.setenv("MEDIANEST_FEATURES__HELLO", "true")
    monkeypatch.setenv("MEDIANEST_PLUGINS__HELLO__ACCOUNTS", "not-json-secret")
    with pytest.raises(SettingsError) as caught:
        build_hub(load_settings())
    assert "plugins.hello.accounts [MEDIANEST_PLUGINS__HELLO__ACCOUNTS]" in str(caught.value)
    assert "not-json-secret" not in str(caught.value)


def test_passwords_in_urls_are_masked(monkeypatch) -> None:
    monkeypatch.setenv("MEDIANEST_DATABASE_URL", "mysql://app:hunter2@db/x")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)
    assert "mysql://app:***@db/x" in str(caught.value)


def test_a_worker_silence_shorter_than_a_heartbeat_is_refused(tmp_path) -> None:
    with pytest.raises(SettingsError, match="longer than heartbeat_seconds"):
        load_settings(
            data_dir=tmp_path, jobs={"heartbeat_seconds": 20, "worker_silent_after_seconds": 15}
        )
