"""The plugin module as pluggy sees it: hook names, what each returns, shutdown."""

from __future__ import annotations

import inspect
import logging
from types import ModuleType

import pluggy
import pytest
from plex_testkit import FakeHub

import medianest.sdk.hookspecs
from medianest.sdk import AuthProvider, Flag, MediaSource
from medianest.sdk.markers import PROJECT_NAME
from medianest_plex import plugin
from medianest_plex.settings import PlexSettings
from medianest_plex.source import PlexMediaSource

SETTINGS = PlexSettings(
    servers=[
        {"name": "home", "url": "http://127.0.0.1:1", "token": "a-token"},
        {"name": "cabin", "url": "http://127.0.0.1:2", "token": "b-token"},
    ],
    webhook_secret="s" * 20,
)


@pytest.fixture
def manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(medianest.sdk.hookspecs)
    pm.register(plugin, name="plex")
    return pm


def test_every_hook_is_a_known_hook(manager: pluggy.PluginManager) -> None:
    manager.check_pending()
    assert isinstance(plugin, ModuleType)


async def test_sign_in_finds_the_sources_through_the_hub(
    manager: pluggy.PluginManager,
) -> None:
    hub, other_hub = FakeHub(), FakeHub()
    [sources] = manager.hook.register_media_sources(settings=SETTINGS, hub=hub)
    hub.providers.update({source.id: source for source in sources})  # as the hub registers them
    [providers] = manager.hook.register_auth_providers(settings=SETTINGS, hub=hub)
    [other_sources] = manager.hook.register_media_sources(settings=SETTINGS, hub=other_hub)
    [auth] = providers
    try:
        assert [s.id for s in sources] == ["plex:home", "plex:cabin"]
        assert all(isinstance(s, MediaSource) for s in sources)
        assert isinstance(auth, AuthProvider) and auth.id == "plex"
        assert auth.servers == sources
        assert other_sources[0] is not sources[0]
    finally:
        for provider in [*sources, *other_sources, auth]:
            await provider.aclose()  # what the hub does when it stops
    assert all(isinstance(s, PlexMediaSource) and s.client._http.is_closed for s in sources)


async def test_no_servers_means_no_sign_in(
    manager: pluggy.PluginManager, caplog: pytest.LogCaptureFixture
) -> None:
    hub = FakeHub()
    with caplog.at_level(logging.WARNING, logger="medianest_plex"):
        assert manager.hook.register_auth_providers(settings=PlexSettings(), hub=hub) == [[]]
    assert "no Plex server is configured" in caplog.text
    assert manager.hook.register_media_sources(settings=PlexSettings(), hub=hub) == [[]]


def test_settings_blueprints_and_flags(manager: pluggy.PluginManager) -> None:
    assert manager.hook.register_settings() == [PlexSettings]
    [blueprints] = manager.hook.register_blueprints(settings=SETTINGS)
    assert [b.name for b in blueprints] == ["plex_webhooks"]
    [flags] = manager.hook.register_flags()
    assert flags == [Flag(key="plex.webhooks", description=flags[0].description, default=True)]


def test_hooks_are_plain_functions() -> None:
    for name in ("register_media_sources", "register_auth_providers"):
        assert not inspect.iscoroutinefunction(getattr(plugin, name))
