"""The secret key and encryption at rest: generated once when embedded, required when scaled."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from medianest.config import Settings, SettingsError, load_settings
from medianest.core.secrets import (
    SECRET_KEY_FILE,
    SecretBox,
    UndecryptableSecretError,
    derive_key,
    load_secret_key,
    secret_box_for,
)
from medianest.sdk.errors import ConfigurationError

KEY = "k" * 40
OTHER_KEY = "o" * 40


def test_what_is_encrypted_decrypts_and_is_not_readable() -> None:
    box = SecretBox(KEY)
    token = box.encrypt("plex-token-123 ✓")
    assert "plex-token-123" not in token
    assert token.isascii()
    assert box.decrypt(token) == "plex-token-123 ✓"
    assert box.encrypt("same") != box.encrypt("same"), "every encryption is fresh"


def test_another_key_cannot_decrypt_and_says_why() -> None:
    token = SecretBox(KEY).encrypt("secret")
    with pytest.raises(UndecryptableSecretError) as caught:
        SecretBox(OTHER_KEY).decrypt(token)
    assert "MEDIANEST_SECRET_KEY" in str(caught.value)
    assert isinstance(caught.value, ConfigurationError)


@pytest.mark.parametrize("token", ["", "not-a-token", "gAAAAAB" + "x" * 80, "naïve"])
def test_damaged_tokens_are_refused(token: str) -> None:
    with pytest.raises(UndecryptableSecretError):
        SecretBox(KEY).decrypt(token)


def test_previous_keys_still_decrypt_and_rotate_to_the_current_one() -> None:
    old_token = SecretBox(OTHER_KEY).encrypt("kept")
    box = SecretBox(KEY, previous_keys=[OTHER_KEY])
    assert box.decrypt(old_token) == "kept"
    rotated = box.rotate(old_token)
    assert SecretBox(KEY).decrypt(rotated) == "kept"


def test_keys_are_derived_per_purpose() -> None:
    assert derive_key(KEY, "a") == derive_key(KEY, "a")
    assert derive_key(KEY, "a") != derive_key(KEY, "b")
    assert derive_key(KEY, "a") != derive_key(OTHER_KEY, "a")
    assert len(derive_key(KEY, "a", length=64)) == 64


def test_box_does_not_show_its_key() -> None:
    assert KEY not in repr(SecretBox(KEY)) and "1 key" in repr(SecretBox(KEY))


def test_embedded_hub_generates_a_private_key_once(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = load_secret_key(settings)
    path = tmp_path / "data" / SECRET_KEY_FILE
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret_key(settings) == first
    token = secret_box_for(settings).encrypt("x")
    assert secret_box_for(settings).decrypt(token) == "x"
    assert [p.name for p in path.parent.iterdir()] == [SECRET_KEY_FILE], "no staging files left"


def test_processes_racing_to_generate_agree_on_one_key(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path)
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = set(pool.map(lambda _: load_secret_key(settings), range(16)))
    assert len(keys) == 1


def test_the_setting_wins_over_the_file(tmp_path) -> None:
    load_secret_key(Settings(data_dir=tmp_path))
    assert load_secret_key(Settings(data_dir=tmp_path, secret_key=KEY)) == KEY


def test_scaled_mode_requires_the_key_naming_the_variable(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/0")
    with pytest.raises(ConfigurationError) as caught:
        secret_box_for(settings)
    assert "MEDIANEST_SECRET_KEY" in str(caught.value)
    assert "every replica" in str(caught.value)
    assert not (tmp_path / SECRET_KEY_FILE).exists()
    scaled = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/0", secret_key=KEY)
    assert load_secret_key(scaled) == KEY


def test_a_short_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(secret_key="too-short-but-secret")
    assert "secret_key [MEDIANEST_SECRET_KEY]: Value error, must be at least 32" in str(
        caught.value
    )
    assert "too-short-but-secret" not in str(caught.value)


def test_a_short_key_file_is_refused(tmp_path) -> None:
    (tmp_path / SECRET_KEY_FILE).write_text("short\n")
    with pytest.raises(ConfigurationError, match="fewer than 32 characters"):
        load_secret_key(Settings(data_dir=tmp_path))


def test_the_key_can_come_from_the_secrets_directory(tmp_path, monkeypatch) -> None:
    secrets_dir = tmp_path / "run-secrets"
    secrets_dir.mkdir()
    (secrets_dir / "secret_key").write_text(KEY + "\n")
    monkeypatch.setenv("MEDIANEST_SECRETS_DIR", str(secrets_dir))
    assert load_secret_key(load_settings(data_dir=tmp_path)) == KEY
