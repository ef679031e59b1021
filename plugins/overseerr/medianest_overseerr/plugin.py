"""The Overseerr plugin's hook implementations (entry point ``medianest_overseerr.plugin``).

For every configured instance, a request backend and a live-search media source, both
``overseerr:<name>`` (each with its own HTTP client, closed by the hub), and one webhook
blueprint for all instances. When the hub starts, every instance is checked ("test before
save": ``/status`` answers and ``/auth/me`` accepts the key): a refused key stops the boot
with a message naming the instance; an instance that does not answer is logged and the hub
starts anyway (its requests fail with a 503 naming it until it is back).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from quart import Blueprint

from medianest.sdk import (
    ConfigurationError,
    Demo,
    HubContext,
    MediaNestError,
    MediaSource,
    RequestBackend,
    hookimpl,
)
from medianest.sdk.errors import UpstreamAuthError
from medianest_overseerr.backend import OverseerrRequestBackend
from medianest_overseerr.client import OverseerrClient
from medianest_overseerr.const import PLUGIN_KEY
from medianest_overseerr.health import verify_instance
from medianest_overseerr.settings import InstanceSettings, OverseerrSettings
from medianest_overseerr.source import OverseerrMediaSource
from medianest_overseerr.webhooks import make_blueprint

log = logging.getLogger(__name__)

MEDIANEST_SDK = ">=1.0,<2"
"""The SDK versions this plugin is written for; core refuses to load it under any other."""

_instances_of: weakref.WeakKeyDictionary[Any, list[InstanceSettings]] = weakref.WeakKeyDictionary()
"""The instances each hub was given, for its ``startup`` check (a hub is gone, so is this)."""


def build_backends(
    settings: OverseerrSettings, hub: HubContext | None = None
) -> list[OverseerrRequestBackend]:
    """One request backend per instance, keeping the attribution directory in ``hub.cache``
    (an in-process cache without a hub). No I/O happens here."""

    def shared_cache() -> Any:
        return hub.cache if hub is not None else None

    return [
        OverseerrRequestBackend(
            instance,
            OverseerrClient(instance),
            cache=shared_cache if hub is not None else None,
        )
        for instance in settings.instances
    ]


def build_sources(settings: OverseerrSettings) -> list[OverseerrMediaSource]:
    """One live-search source per instance. No I/O happens here."""
    return [
        OverseerrMediaSource(instance, OverseerrClient(instance)) for instance in settings.instances
    ]


async def check_instances(instances: list[InstanceSettings]) -> list[str]:
    """Check every instance at once; the problems found, one line each naming the instance.

    :raises ConfigurationError: an instance refused its API key.
    """

    async def check(instance: InstanceSettings) -> str | None:
        async with OverseerrClient(instance) as client:
            try:
                version = await verify_instance(client)
            except UpstreamAuthError as exc:
                raise ConfigurationError(exc.message, plugin=PLUGIN_KEY) from exc
            except MediaNestError as exc:
                return exc.message
        log.info("Overseerr %r answers (version %s) and accepts its key", instance.name, version)
        return None

    found = await asyncio.gather(*(check(instance) for instance in instances))
    return [problem for problem in found if problem is not None]


@hookimpl
def register_settings() -> type[OverseerrSettings]:
    """The ``[plugins.overseerr]`` settings model."""
    return OverseerrSettings


@hookimpl
def register_request_backends(
    settings: OverseerrSettings | None, hub: HubContext
) -> list[RequestBackend]:
    """One backend ``overseerr:<name>`` per instance; the hub closes them when it stops."""
    settings = settings or OverseerrSettings()
    try:
        _instances_of[hub] = list(settings.instances)
    except TypeError:  # a hub that cannot be weakly referenced (a test double): no boot check
        pass
    return list(build_backends(settings, hub))


@hookimpl
def register_media_sources(settings: OverseerrSettings | None) -> list[MediaSource]:
    """One live-search source ``overseerr:<name>`` per instance."""
    return list(build_sources(settings or OverseerrSettings()))


@hookimpl
def register_blueprints(settings: OverseerrSettings | None) -> list[Blueprint]:
    """The webhook receiver (``/webhook/<instance>``)."""
    return [make_blueprint(settings if settings is not None else OverseerrSettings())]


@hookimpl
async def startup(hub: HubContext) -> None:
    """Test before save: each instance answers and accepts its key (see the module)."""
    try:
        instances = _instances_of.get(hub, [])
    except TypeError:
        instances = []
    for problem in await check_instances(instances):
        log.warning("%s; requests to it fail until it answers", problem)


@hookimpl
def register_demo() -> Demo:
    """A simulated Overseerr over the Plex demo's world, for ``medianest demo``."""
    from medianest_overseerr.demo import run_demo  # the simulator loads only for the demo

    return Demo(start=run_demo)
