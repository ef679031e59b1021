"""The SDK's public surface is documented where a plugin author looks for it."""

from __future__ import annotations

import inspect
from pathlib import Path

from pydantic import BaseModel

import medianest.sdk as sdk
from medianest.sdk import events

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "writing-plugins.md").read_text()
HOOKS = (ROOT / "docs" / "plugin-hooks.md").read_text()
CHANGELOG = (ROOT / "sdk" / "CHANGELOG.md").read_text()


def test_every_exported_protocol_model_and_error_is_listed_in_the_guide() -> None:
    missing = []
    for name in sdk.__all__:
        value = getattr(sdk, name)
        documented = inspect.isclass(value) and (
            getattr(value, "_is_protocol", False) or issubclass(value, BaseModel | Exception)
        )
        if documented and f"`{name}`" not in GUIDE:
            missing.append(name)
    assert missing == []


def test_every_channel_and_event_type_core_uses_is_documented() -> None:
    names = [
        value for key, value in vars(events).items() if key.isupper() and isinstance(value, str)
    ]
    assert names
    for value in [*names, *events.PLAYBACK_EVENTS]:
        assert f"`{value}`" in HOOKS, value


def test_the_changelog_records_this_version() -> None:
    assert f"## {sdk.SDK_VERSION}" in CHANGELOG
    for name in ("request_status", "request_sync", "MEDIANEST_SDK", "address_kind", "emit"):
        assert name in CHANGELOG, name


def test_no_stub_is_left_in_the_plugins_or_the_guide() -> None:
    places = [
        *(ROOT / "plugins" / "plex" / "medianest_plex").rglob("*.py"),
        *(ROOT / "tests" / "fixtures" / "medianest-hello").rglob("*.py"),
        *(ROOT / "docs").glob("*.md"),
    ]
    assert [p for p in places if "NotImplementedError" in p.read_text()] == []
