"""Plugin discovery, boot flags and the errors that name a misbehaving plugin."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest

from medianest.config import SettingsError, load_settings
from medianest.core.hub import build_hub
from medianest.core.plugins import PluginHost
from medianest.sdk import Flag, MediaKind, PluginError, hookimpl


def _settings(tmp_path, **overrides):
    return load_settings(data_dir=tmp_path, **overrides)


def _plugin(**hooks) -> types.SimpleNamespace:
    """A plugin object whose attributes are hook implementations."""
    for name, function in hooks.items():
        function.__name__ = name
        hooks[name] = hookimpl(function)
    return types.SimpleNamespace(**hooks)


def _probe(code: str, env: dict[str, str] | None = None) -> dict:
    """Run ``code`` in a fresh interpreter (so sys.modules is clean); it prints JSON."""
    import os

    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


PROBE = """
import json, sys, tempfile
from medianest.config import load_settings
from medianest.core.plugins import PluginHost
host = PluginHost(load_settings(data_dir=tempfile.mkdtemp()))
print(json.dumps({
    "imported": "medianest_hello.plugin" in sys.modules or "medianest_hello" in sys.modules,
    "plugins": {
        k: [i.enabled, i.distribution, i.version, i.bundled] for k, i in host.plugins.items()
    },
}))
"""


@pytest.mark.slow  # runs a process of its own
def test_third_party_plugin_is_discovered_but_off_and_never_imported() -> None:
    result = _probe(PROBE)
    assert result["plugins"]["hello"] == [False, "medianest-hello", "1.2.0", False]
    assert result["imported"] is False


@pytest.mark.slow  # runs a process of its own
def test_third_party_plugin_loads_when_its_flag_is_on() -> None:
    result = _probe(PROBE, {"MEDIANEST_FEATURES__HELLO": "true"})
    assert result["plugins"]["hello"][0] is True
    assert result["imported"] is True


@pytest.mark.slow  # runs a process of its own
def test_bundled_plugin_is_on_by_default_and_can_be_switched_off() -> None:
    on = _probe(PROBE)
    assert on["plugins"]["plex"][0] is True and on["plugins"]["plex"][3] is True
    off = _probe(
        PROBE.replace('"medianest_hello', '"medianest_plex'), {"MEDIANEST_FEATURES__PLEX": "false"}
    )
    assert off["plugins"]["plex"][0] is False
    assert off["imported"] is False


def test_installed_plugin_hooks_are_called(tmp_path) -> None:
    hub = build_hub(
        _settings(tmp_path, features={"hello": True}, plugins={"hello": {"libraries": ["a", "b"]}})
    )
    info = hub.host.plugins["hello"]
    assert info.provides["media_sources"] == ["hello:a", "hello:b"]
    assert "hello.count_visit" in [job.name for job in hub.job_definitions]
    assert "hello.greetings" in [f.key for f in hub.flag_definitions]
    assert hub.models["hello"].migrations == "medianest_hello.migrations"


def test_misspelled_hook_fails_boot_naming_the_plugin(tmp_path) -> None:
    plugin = _plugin(register_media_source=lambda: [])
    with pytest.raises(PluginError, match=r"'typo'.*does not exist \(misspelled\?\)"):
        PluginHost(_settings(tmp_path), extra={"typo": plugin}, autoload=False)


def test_hook_with_unknown_argument_fails_boot(tmp_path) -> None:
    plugin = _plugin(register_flags=lambda colour: [])
    with pytest.raises(PluginError, match="'odd' has an invalid hook"):
        PluginHost(_settings(tmp_path), extra={"odd": plugin}, autoload=False)


def test_plugin_raising_in_a_hook_is_named(tmp_path) -> None:
    def register_flags():
        raise RuntimeError("kaboom")

    with pytest.raises(
        PluginError, match=r"plugin 'boom' failed in register_flags: RuntimeError: kaboom"
    ):
        build_hub(
            _settings(tmp_path),
            plugins={"boom": _plugin(register_flags=register_flags)},
            autoload=False,
        )


def test_wrong_type_from_a_hook_is_named(tmp_path) -> None:
    plugin = _plugin(register_media_sources=lambda: [object()])
    with pytest.raises(
        PluginError,
        match=r"'bad' returned object from register_media_sources; expected a MediaSource "
        r"\(missing: capabilities, get_item, id, name\)",
    ):
        build_hub(_settings(tmp_path), plugins={"bad": plugin}, autoload=False)


@pytest.mark.parametrize(
    ("hook", "expected"),
    [
        ("register_jobs", "medianest.sdk.Job"),
        ("register_flags", "medianest.sdk.Flag"),
        ("register_blueprints", "a quart.Blueprint"),
        ("register_notifiers", "a Notifier"),
    ],
)
def test_every_hook_reports_a_wrong_item_in_the_same_words(tmp_path, hook, expected) -> None:
    plugin = _plugin(**{hook: lambda: ["not this"]})
    with pytest.raises(PluginError) as raised:
        build_hub(_settings(tmp_path), plugins={"bad": plugin}, autoload=False)
    assert str(raised.value).startswith(
        f"[bad] plugin 'bad' returned str from {hook}; expected {expected}"
    )
    assert raised.value.plugin == "bad"


def test_wrong_models_from_a_plugin_are_reported_in_the_same_words(tmp_path) -> None:
    plugin = _plugin(register_models=lambda: {"models": []})
    with pytest.raises(
        PluginError,
        match=r"^\[bad\] plugin 'bad' returned dict from register_models; "
        r"expected medianest.sdk.DatabaseModels$",
    ):
        build_hub(_settings(tmp_path), plugins={"bad": plugin}, autoload=False)


def test_hook_returning_a_non_list_is_named(tmp_path) -> None:
    plugin = _plugin(register_flags=lambda: Flag(key="bad.x", description="x"))
    with pytest.raises(
        PluginError, match="'bad' returned Flag from register_flags; expected a list"
    ):
        build_hub(_settings(tmp_path), plugins={"bad": plugin}, autoload=False)


def test_duplicate_provider_ids_fail_boot_naming_the_plugin(tmp_path) -> None:
    # Ids start with the plugin key, so only one plugin can produce a clash: two instances
    # configured with the same name.
    with pytest.raises(
        PluginError,
        match=r"duplicate provider id 'hello:main' in media_sources: "
        r"registered by plugin 'hello' \(from medianest-hello",
    ):
        build_hub(
            _settings(
                tmp_path,
                features={"hello": True},
                plugins={"hello": {"libraries": ["main", "main"]}},
            )
        )


def test_provider_ids_must_carry_the_plugin_key(tmp_path) -> None:
    from medianest_hello.providers import HelloLibrary

    plugin = _plugin(register_media_sources=lambda: [HelloLibrary("other:main", 1)])
    with pytest.raises(PluginError, match="must start with its key"):
        build_hub(_settings(tmp_path), plugins={"mine": plugin}, autoload=False)


def test_import_error_names_plugin_and_distribution(tmp_path, monkeypatch) -> None:
    import importlib.metadata as metadata

    from medianest.core import plugins as plugins_module

    class BrokenDist:
        name = "medianest-broken"
        version = "0.0.1"

    broken = metadata.EntryPoint("broken", "medianest_does_not_exist.plugin", "medianest.plugins")
    broken = broken._for(BrokenDist())  # the entry point as importlib.metadata hands it out
    monkeypatch.setattr(plugins_module, "_entry_points", lambda: [broken])
    with pytest.raises(
        PluginError,
        match=r"'broken' \(from medianest-broken 0\.0\.1\) failed to import: "
        r"ModuleNotFoundError",
    ):
        PluginHost(_settings(tmp_path, features={"broken": True}))


def test_unknown_boot_flag_lists_installed_plugins(tmp_path) -> None:
    with pytest.raises(
        SettingsError,
        match=r"features\.nope \[MEDIANEST_FEATURES__NOPE\]: no installed "
        r"plugin is called 'nope' \(installed: .*hello.*plex",
    ):
        PluginHost(_settings(tmp_path, features={"nope": True}))


def test_invalid_plugin_settings_name_the_field(tmp_path) -> None:
    with pytest.raises(SettingsError) as caught:
        build_hub(
            _settings(
                tmp_path,
                features={"hello": True},
                plugins={"hello": {"library_size": "lots", "colour": "red"}},
            )
        )
    text = str(caught.value)
    assert "plugins.hello.library_size [MEDIANEST_PLUGINS__HELLO__LIBRARY_SIZE]" in text
    assert "plugins.hello.colour [MEDIANEST_PLUGINS__HELLO__COLOUR]: is not a known setting" in text


def test_settings_for_a_plugin_that_takes_none_are_refused(tmp_path) -> None:
    plugin = _plugin(register_flags=lambda: [])
    with pytest.raises(SettingsError, match="plugin 'quiet' takes no settings"):
        PluginHost(
            _settings(tmp_path, plugins={"quiet": {"x": 1}}),
            extra={"quiet": plugin},
            autoload=False,
        )


def test_each_hub_has_its_own_plugin_manager(tmp_path) -> None:
    first = build_hub(_settings(tmp_path / "a", features={"hello": True}))
    second = build_hub(
        _settings(tmp_path / "b", features={"hello": True}, plugins={"hello": {"libraries": ["x"]}})
    )
    assert first.host.pm is not second.host.pm
    assert first.host.plugins["hello"].provides["media_sources"] == ["hello:main"]
    assert second.host.plugins["hello"].provides["media_sources"] == ["hello:x"]
    assert MediaKind.MOVIE in {i.kind for i in second.registry.all("media_sources")[0].items}
