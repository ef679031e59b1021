"""The Plex plugin's hook implementations (entry point ``plex = "medianest_plex.plugin"``).

One ``PlexMediaSource`` per configured server and the ``plex`` sign-in provider share their
HTTP clients. They are made once per hub (the first ``register_*`` hook that needs them
builds them) and closed by ``shutdown(hub)``; two hubs in one process never share them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass

from quart import Blueprint

from medianest.sdk import AuthProvider, Flag, HubContext, MediaSource, hookimpl
from medianest_plex.auth import PlexAuthProvider
from medianest_plex.client import ClientIdentity
from medianest_plex.const import FLAG_WEBHOOKS
from medianest_plex.plextv import PlexTvClient
from medianest_plex.settings import PlexSettings
from medianest_plex.source import PlexMediaSource
from medianest_plex.webhooks import make_blueprint

log = logging.getLogger(__name__)


@dataclass
class PlexRuntime:
    """What the plugin holds open for one hub: the server sources and the plex.tv client."""

    settings: PlexSettings
    sources: list[PlexMediaSource]
    plextv: PlexTvClient

    @classmethod
    def build(cls, settings: PlexSettings) -> PlexRuntime:
        """Create the sources and the plex.tv client (no I/O happens here)."""
        identity = ClientIdentity(settings.client_identifier, settings.product)
        sources = [
            PlexMediaSource(
                server,
                identity=identity,
                page_size=settings.page_size,
                overlap_seconds=settings.changes_overlap_seconds,
            )
            for server in settings.servers
        ]
        plextv = PlexTvClient(
            base_url=settings.plextv_url,
            label="plex.tv",
            source="plex.tv",
            identity=identity,
            timeout=settings.plextv_timeout,
        )
        return cls(settings=settings, sources=sources, plextv=plextv)

    def auth_provider(self) -> PlexAuthProvider:
        """The ``plex`` sign-in provider over this runtime's servers."""
        return PlexAuthProvider(
            plextv=self.plextv,
            servers=self.sources,
            auth_app_url=self.settings.auth_app_url,
            client_identifier=self.settings.client_identifier,
            product=self.settings.product,
        )

    async def aclose(self) -> None:
        """Close every HTTP client."""
        for source in self.sources:
            await source.aclose()
        await self.plextv.aclose()


_runtimes: dict[int, PlexRuntime] = {}
"""Open runtimes by ``id(hub)``, removed again by ``shutdown(hub)``."""


def _runtime(settings: PlexSettings | None, hub: HubContext) -> PlexRuntime:
    runtime = _runtimes.get(id(hub))
    if runtime is None:
        runtime = PlexRuntime.build(settings if settings is not None else PlexSettings())
        _runtimes[id(hub)] = runtime
    return runtime


@hookimpl
def register_settings() -> type[PlexSettings]:
    """The ``[plugins.plex]`` settings model."""
    return PlexSettings


@hookimpl
def register_media_sources(settings: PlexSettings | None, hub: HubContext) -> list[MediaSource]:
    """One source ``plex:<name>`` per configured server."""
    return list(_runtime(settings, hub).sources)


@hookimpl
def register_auth_providers(settings: PlexSettings | None, hub: HubContext) -> list[AuthProvider]:
    """Sign in with Plex, offered when at least one server is configured."""
    runtime = _runtime(settings, hub)
    if not runtime.sources:
        log.warning("Plex sign-in is not offered: no Plex server is configured")
        return []
    return [runtime.auth_provider()]


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
def shutdown(hub: HubContext) -> Awaitable[None] | None:
    """Close the HTTP clients made for ``hub``."""
    runtime = _runtimes.pop(id(hub), None)
    return runtime.aclose() if runtime is not None else None
