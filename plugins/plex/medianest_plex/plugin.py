"""The Plex plugin's hook implementations (entry point ``plex = "medianest_plex.plugin"``).

One ``PlexMediaSource`` per configured server and the ``plex`` sign-in provider, which looks
the sources up through the hub when someone signs in. Each holds its own HTTP client and the
hub closes it (``aclose``) when it stops, so the plugin keeps no state of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from quart import Blueprint

from medianest.sdk import AuthProvider, Demo, Flag, HubContext, MediaSource, hookimpl
from medianest_plex.auth import PlexAuthProvider
from medianest_plex.client import ClientIdentity
from medianest_plex.const import FLAG_WEBHOOKS
from medianest_plex.plextv import PlexTvClient
from medianest_plex.settings import PlexSettings
from medianest_plex.source import PlexMediaSource
from medianest_plex.webhooks import make_blueprint

log = logging.getLogger(__name__)

MEDIANEST_SDK = ">=1.0,<2"
"""The SDK versions this plugin is written for; core refuses to load it under any other."""


def build_sources(settings: PlexSettings) -> list[PlexMediaSource]:
    """One source per configured server (no I/O happens here; ``aclose`` releases each)."""
    identity = ClientIdentity(settings.client_identifier, settings.product)
    return [
        PlexMediaSource(
            server,
            identity=identity,
            page_size=settings.page_size,
            overlap_seconds=settings.changes_overlap_seconds,
        )
        for server in settings.servers
    ]


def build_auth_provider(
    settings: PlexSettings, servers: Callable[[], Sequence[PlexMediaSource]]
) -> PlexAuthProvider:
    """The ``plex`` sign-in provider with a plex.tv client of its own."""
    identity = ClientIdentity(settings.client_identifier, settings.product)
    plextv = PlexTvClient(
        base_url=settings.plextv_url,
        label="plex.tv",
        source="plex.tv",
        identity=identity,
        timeout=settings.plextv_timeout,
    )
    return PlexAuthProvider(
        plextv=plextv,
        servers=servers,
        auth_app_url=settings.auth_app_url,
        client_identifier=settings.client_identifier,
        product=settings.product,
    )


@dataclass
class PlexRuntime:
    """The sources and sign-in provider for one set of settings, built together (tests and
    tools that use the plugin without a hub)."""

    settings: PlexSettings
    sources: list[PlexMediaSource]
    auth: PlexAuthProvider

    @classmethod
    def build(cls, settings: PlexSettings) -> PlexRuntime:
        """Create the sources and the sign-in provider over them (no I/O happens here)."""
        sources = build_sources(settings)
        return cls(
            settings=settings, sources=sources, auth=build_auth_provider(settings, lambda: sources)
        )

    @property
    def plextv(self) -> PlexTvClient:
        """The plex.tv client of the sign-in provider."""
        return self.auth.plextv

    def auth_provider(self) -> PlexAuthProvider:
        """The ``plex`` sign-in provider over this runtime's servers."""
        return self.auth

    async def aclose(self) -> None:
        """Close every HTTP client."""
        for source in self.sources:
            await source.aclose()
        await self.auth.aclose()


@hookimpl
def register_settings() -> type[PlexSettings]:
    """The ``[plugins.plex]`` settings model."""
    return PlexSettings


@hookimpl
def register_media_sources(settings: PlexSettings | None) -> list[MediaSource]:
    """One source ``plex:<name>`` per configured server; the hub closes them when it stops."""
    return list(build_sources(settings or PlexSettings()))


@hookimpl
def register_auth_providers(settings: PlexSettings | None, hub: HubContext) -> list[AuthProvider]:
    """Sign in with Plex, offered when at least one server is configured."""
    settings = settings or PlexSettings()
    if not settings.servers:
        log.warning("Plex sign-in is not offered: no Plex server is configured")
        return []
    source_ids = [f"plex:{server.name}" for server in settings.servers]
    return [build_auth_provider(settings, lambda: [hub.provider(i) for i in source_ids])]


@hookimpl
def register_blueprints(settings: PlexSettings | None) -> list[Blueprint]:
    """The webhook receiver (``/webhook/<secret>``)."""
    return [make_blueprint(settings if settings is not None else PlexSettings())]


@hookimpl
def register_flags() -> list[Flag]:
    """``plex.webhooks``: act on webhooks Plex servers send."""
    return [
        Flag(
            key=FLAG_WEBHOOKS,
            description="Act on Plex webhooks: sync new media at once and record playback",
            default=True,
        )
    ]


@hookimpl
def register_demo() -> Demo:
    """A simulated plex.tv with two servers for ``medianest demo``."""
    from medianest_plex.demo import run_demo  # the simulator loads only for the demo

    return Demo(start=run_demo)
