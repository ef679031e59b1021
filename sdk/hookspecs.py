# mypy: disable-error-code="empty-body"
# Hook specifications are signatures with a contract; pluggy never runs their bodies.
"""Every hook a MediaNest plugin can implement.

Hooks are synchronous collectors: they return what the plugin provides (settings model,
provider objects, blueprints, jobs, flags) and core does all async work itself, calling
provider methods with its own timeouts and error isolation. Lifecycle hooks may return an
awaitable, which core awaits.

Core calls each plugin's implementation separately, passing that plugin's own validated
settings as ``settings``. An implementation may accept any subset of a hook's parameters.
Every hook is documented, with an example, in ``docs/plugin-hooks.md``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

from medianest.sdk.markers import hookspec

if TYPE_CHECKING:
    from quart import Blueprint

    from medianest.sdk.demo import Demo
    from medianest.sdk.events import LiveTopic
    from medianest.sdk.flags import Flag
    from medianest.sdk.jobs import Job
    from medianest.sdk.pages import PluginPage, Widget
    from medianest.sdk.persistence import DatabaseModels
    from medianest.sdk.providers import (
        AnalyticsSink,
        AuthProvider,
        MediaSource,
        Notifier,
        RequestBackend,
    )
    from medianest.sdk.services import HubContext
    from medianest.sdk.settings import PluginSettings


@hookspec
def register_settings() -> type[PluginSettings] | None:
    """Return the plugin's settings model (a ``PluginSettings`` subclass), or ``None``.

    Core validates the ``[plugins.<key>]`` section against it at boot and passes the result
    as ``settings`` to the plugin's other hooks.
    """


@hookspec
def register_auth_providers(settings: PluginSettings | None, hub: HubContext) -> list[AuthProvider]:
    """Return the sign-in methods this plugin offers (each an ``AuthProvider``)."""


@hookspec
def register_media_sources(settings: PluginSettings | None, hub: HubContext) -> list[MediaSource]:
    """Return one ``MediaSource`` per configured instance (two Plex servers, two sources)."""


@hookspec
def register_request_backends(
    settings: PluginSettings | None, hub: HubContext
) -> list[RequestBackend]:
    """Return the ``RequestBackend`` instances where missing media can be requested."""


@hookspec
def register_analytics_sinks(
    settings: PluginSettings | None, hub: HubContext
) -> list[AnalyticsSink]:
    """Return ``AnalyticsSink`` instances that receive batches of domain events."""


@hookspec
def register_notifiers(settings: PluginSettings | None, hub: HubContext) -> list[Notifier]:
    """Return ``Notifier`` instances that deliver notifications to people."""


@hookspec
def register_blueprints(settings: PluginSettings | None) -> list[Blueprint]:
    """Return Quart blueprints; core mounts them under ``/api/v1/plugins/<key>``."""


@hookspec
def register_pages(settings: PluginSettings | None, hub: HubContext) -> list[PluginPage]:
    """Return ``PluginPage`` objects: pages core serves at ``/plugins/<key><path>`` in its shell."""


@hookspec
def register_widgets(settings: PluginSettings | None, hub: HubContext) -> list[Widget]:
    """Return ``Widget`` objects: a template and an async loader shown on Home or the dashboard."""


@hookspec
def register_live_topics(settings: PluginSettings | None, hub: HubContext) -> list[LiveTopic]:
    """Return ``LiveTopic`` objects: topics of the live socket fed by the plugin's channels
    (names ``<key>.<topic>``). Since SDK 1.1."""


@hookspec
def register_jobs(settings: PluginSettings | None) -> list[Job]:
    """Return background ``Job`` definitions (names ``<key>.<job>``), scheduled or on demand."""


@hookspec
def register_flags() -> list[Flag]:
    """Return runtime ``Flag`` definitions (keys ``<key>.<feature>``) admins can toggle."""


@hookspec
def register_models() -> DatabaseModels | None:
    """Return the plugin's database models and migrations, stored under the app label ``<key>``."""


@hookspec
def register_demo() -> Demo | None:
    """Return a ``Demo`` that runs a simulated service for ``medianest demo``, or ``None``."""


@hookspec
def startup(hub: HubContext) -> Awaitable[None] | None:
    """Run once when the hub starts serving (or a worker starts); may return an awaitable."""


@hookspec
def shutdown(hub: HubContext) -> Awaitable[None] | None:
    """Run once when the hub stops; may return an awaitable. Release what ``startup`` took."""
