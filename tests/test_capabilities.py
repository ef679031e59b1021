"""Capability protocols: a source implements what it declares, and core checks it at boot."""

from __future__ import annotations

import importlib.metadata as metadata
import types

import pytest

from medianest.config import load_settings
from medianest.core import plugins as plugins_module
from medianest.core.hub import build_hub
from medianest.core.plugins import PluginHost
from medianest.sdk import (
    CAPABILITY_PROTOCOLS,
    SDK_VERSION,
    ExternalIds,
    MediaItem,
    MediaKind,
    NotFoundError,
    PluginError,
    SearchableSource,
    SearchQuery,
    SourceCapability,
    SourceRef,
    hookimpl,
)
from medianest.sdk.testing import HubHarness


def _settings(tmp_path, **overrides):
    return load_settings(data_dir=tmp_path, **overrides)


class SearchOnly:
    """A source that can only search: no library, no changes, no counts, no health, no stubs."""

    name = "Search only"
    capabilities = frozenset({SourceCapability.SEARCH})

    def __init__(self, source_id: str = "finder") -> None:
        self.id = source_id

    async def get_item(self, item_id: str) -> MediaItem:
        if item_id != "1":
            raise NotFoundError(f"no item {item_id!r}")
        return MediaItem(
            kind=MediaKind.MOVIE,
            title="Found",
            ref=SourceRef(source=self.id, item_id="1"),
            ids=ExternalIds(tmdb=1),
        )

    async def search(self, query: SearchQuery) -> list[MediaItem]:
        return [await self.get_item("1")][: query.limit]


class Plugin:
    def __init__(self, *sources: object) -> None:
        self.sources = list(sources)

    @hookimpl
    def register_media_sources(self) -> list[object]:
        return self.sources


def test_every_capability_has_a_protocol_with_its_methods() -> None:
    assert set(CAPABILITY_PROTOCOLS) == set(SourceCapability)
    assert isinstance(SearchOnly(), SearchableSource)


async def test_a_search_only_source_boots_without_stubs(medianest_hub: HubHarness) -> None:
    async with medianest_hub.run({"finder": Plugin(SearchOnly())}) as running:
        assert running.hub.registry.get("media_sources", "finder").capabilities == {"search"}
        ready = await (await running.client.get("/health/ready")).get_json()
        [component] = [c for c in ready["components"] if c["name"] == "finder"]
        assert component["ok"] is True
        assert "does not declare 'health'" in component["detail"]


@pytest.mark.parametrize(
    ("capability", "method"),
    [
        (SourceCapability.LIBRARY, "list_library"),
        (SourceCapability.CHANGES, "list_changes"),
        (SourceCapability.COUNT, "count"),
        (SourceCapability.RECENTLY_ADDED, "recently_added"),
        (SourceCapability.HEALTH, "health"),
        (SourceCapability.LIVE_SEARCH, "search"),
    ],
)
def test_a_declared_capability_without_its_method_fails_boot(
    tmp_path, capability: SourceCapability, method: str
) -> None:
    source = SearchOnly()
    source.capabilities = frozenset({capability})  # type: ignore[misc]
    if method == "search":
        source.search = None  # type: ignore[assignment, method-assign]
    with pytest.raises(PluginError) as caught:
        build_hub(_settings(tmp_path), plugins={"finder": Plugin(source)}, autoload=False)
    message = str(caught.value)
    assert "plugin 'finder'" in message and "'finder'" in message
    assert f"capability '{capability.value}'" in message
    assert f"async def {method}(" in message


def test_a_method_that_is_not_async_fails_boot(tmp_path) -> None:
    source = SearchOnly()
    source.search = lambda query: []  # type: ignore[method-assign]
    with pytest.raises(PluginError, match=r"a non-async method 'async def search\(\.\.\.\)'"):
        build_hub(_settings(tmp_path), plugins={"finder": Plugin(source)}, autoload=False)


def test_an_unknown_capability_fails_boot_listing_the_known_ones(tmp_path) -> None:
    source = SearchOnly()
    source.capabilities = frozenset({"teleport"})  # type: ignore[misc]
    with pytest.raises(PluginError, match=r"unknown capability 'teleport' \(known: changes, count"):
        build_hub(_settings(tmp_path), plugins={"finder": Plugin(source)}, autoload=False)


def test_capabilities_must_be_a_set(tmp_path) -> None:
    source = SearchOnly()
    source.capabilities = ["search"]  # type: ignore[assignment, misc]
    with pytest.raises(PluginError, match="expected a frozenset of SourceCapability"):
        build_hub(_settings(tmp_path), plugins={"finder": Plugin(source)}, autoload=False)


# SDK versions -------------------------------------------------------------------------------


def _versioned(declared: str | None) -> types.SimpleNamespace:
    plugin = types.SimpleNamespace(register_flags=hookimpl(lambda: []))
    plugin.register_flags.__name__ = "register_flags"
    if declared is not None:
        plugin.MEDIANEST_SDK = declared
    return plugin


def test_a_plugin_for_another_sdk_is_refused_naming_both_versions(tmp_path) -> None:
    with pytest.raises(PluginError) as caught:
        PluginHost(_settings(tmp_path), extra={"future": _versioned(">=2.0,<3")}, autoload=False)
    message = str(caught.value)
    assert "plugin 'future' supports SDK versions <3,>=2.0" in message
    assert f"this hub has SDK {SDK_VERSION}" in message


def test_a_plugin_within_its_range_loads(tmp_path) -> None:
    host = PluginHost(_settings(tmp_path), extra={"fine": _versioned(">=1.0,<2")}, autoload=False)
    assert host.plugins["fine"].enabled


def test_an_unreadable_range_is_refused(tmp_path) -> None:
    with pytest.raises(PluginError, match=r"declares MEDIANEST_SDK = 'one point oh'"):
        PluginHost(_settings(tmp_path), extra={"odd": _versioned("one point oh")}, autoload=False)


def test_an_installed_plugin_must_declare_its_range(tmp_path, monkeypatch) -> None:
    class Dist:
        name = "medianest-quiet"
        version = "0.3.0"

    module = types.ModuleType("medianest_quiet_plugin")
    monkeypatch.setitem(__import__("sys").modules, "medianest_quiet_plugin", module)
    entry = metadata.EntryPoint("quiet", "medianest_quiet_plugin", "medianest.plugins")._for(Dist())
    monkeypatch.setattr(plugins_module, "_entry_points", lambda: [entry])
    with pytest.raises(PluginError) as caught:
        PluginHost(_settings(tmp_path, features={"quiet": True}))
    message = str(caught.value)
    assert "'quiet' (from medianest-quiet 0.3.0) does not say which SDK versions" in message
    assert 'MEDIANEST_SDK = ">=1.0,<2"' in message
    module.MEDIANEST_SDK = ">=1.0,<2"
    assert PluginHost(_settings(tmp_path, features={"quiet": True})).plugins["quiet"].enabled


def test_bundled_and_fixture_plugins_declare_a_range_holding_this_sdk() -> None:
    import medianest_hello.plugin
    from packaging.specifiers import SpecifierSet

    import medianest_plex.plugin

    for module in (medianest_plex.plugin, medianest_hello.plugin):
        assert SDK_VERSION in SpecifierSet(module.MEDIANEST_SDK)
