"""The pub/sub channels and domain event types core uses, as constants.

Subscribe to a channel with ``hub.pubsub.subscribe(CHANNEL)``; every message is JSON. Event
types are dotted (``<area>.<what>``); a plugin's own types start with its key
(``plex.library_scanned``). The list in ``docs/plugin-hooks.md`` ("Events and channels")
mirrors this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from medianest.sdk.access import Permission

# Channels ----------------------------------------------------------------------------------

EVENTS_CHANNEL: Final = "events"
"""Every domain event, as ``DomainEvent.model_dump(mode="json")``, once it left the buffer."""
SYNC_PROGRESS_CHANNEL: Final = "sync"
"""Library sync progress: ``{"run": {...}}`` after every batch and when a run ends."""
CATALOGUE_CHANNEL: Final = "catalogue"
"""The catalogue changed (a sync wrote items, an admin edited one): cached answers go stale."""
FLAGS_CHANNEL: Final = "flags"
"""A runtime flag was switched; every replica reloads its flags."""
USERS_CHANNEL: Final = "users"
"""A user or session changed; every replica forgets what it kept of them."""
HEALTH_CHANNEL: Final = "health"
"""A live source's circuit opened or closed: ``{"source", "circuit", "detail"}``."""
REQUESTS_CHANNEL: Final = "requests"
"""A media request changed (created, decided, available...): ``{"request": {...}}`` as the
requests API shows it, for the people who manage requests."""

CORE_CHANNELS: Final = frozenset(
    {
        EVENTS_CHANNEL,
        SYNC_PROGRESS_CHANNEL,
        CATALOGUE_CHANNEL,
        FLAGS_CHANNEL,
        USERS_CHANNEL,
        HEALTH_CHANNEL,
        REQUESTS_CHANNEL,
    }
)
"""Channels only core publishes on (``HubContext.publish`` refuses them)."""

# Event types core emits --------------------------------------------------------------------

SEARCH_PERFORMED: Final = "search.performed"
"""A unified search ran: ``data`` has the query, result count, latency and source statuses."""
SYNC_SUCCEEDED: Final = "sync.succeeded"
"""A library sync run ended well: ``data`` is the run (source, kind, counts, timings)."""
SYNC_FAILED: Final = "sync.failed"
"""A library sync run failed: ``data`` is the run, with its error."""

# Event types media sources emit (core forwards them like any other) --------------------------

MEDIA_PLAY: Final = "media.play"
MEDIA_PAUSE: Final = "media.pause"
MEDIA_RESUME: Final = "media.resume"
MEDIA_STOP: Final = "media.stop"
MEDIA_SCROBBLE: Final = "media.scrobble"
"""Watched to the end (Plex's word)."""
PLAYBACK_EVENTS: Final = frozenset(
    {MEDIA_PLAY, MEDIA_PAUSE, MEDIA_RESUME, MEDIA_STOP, MEDIA_SCROBBLE}
)
"""Playback events: ``item`` is what plays, ``data`` has the account, player and media."""

REQUEST_CREATED: Final = "request.created"
"""A person asked for a title (also when they joined an existing request as interested)."""
REQUEST_APPROVED: Final = "request.approved"
REQUEST_DECLINED: Final = "request.declined"
"""``data["reason"]`` says why, when the person who declined gave a reason."""
REQUEST_AVAILABLE: Final = "request.available"
"""The title is in a library: ``data["location"]`` is where (``{"source", "item_id"}``)."""
REQUEST_FAILED: Final = "request.failed"
REQUEST_DELETED: Final = "request.deleted"
REQUEST_EVENTS: Final = frozenset(
    {
        REQUEST_CREATED,
        REQUEST_APPROVED,
        REQUEST_DECLINED,
        REQUEST_AVAILABLE,
        REQUEST_FAILED,
        REQUEST_DELETED,
    }
)
"""A request changed: ``user_id`` is the person who asked; ``data`` has the hub's ``request_id``,
``backend``, ``remote_id``, ``kind``, ``title``, ``ids``, ``status``, ``seasons`` and
``interested`` (the user ids to tell, the requester first)."""

CORE_EVENT_TYPES: Final = frozenset(
    {SEARCH_PERFORMED, SYNC_SUCCEEDED, SYNC_FAILED, *REQUEST_EVENTS}
)
"""Every event type core itself emits."""


# Live topics -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiveTopic:
    """A topic of the live socket (``/api/v1/live``) a plugin adds (``register_live_topics``).

    Pages and programs subscribe to it by ``name``; what the plugin publishes on ``channel``
    with ``hub.publish(channel, message)`` reaches them, numbered and kept in the channel's
    bounded history like core's topics, so a client that reconnects catches up.

    :param name: ``<plugin key>.<topic>`` (lower-case letters, digits, ``.``, ``_``, ``-``).
    :param channel: the plugin's own pub/sub channel (not one of :data:`CORE_CHANNELS`).
    :param permission: who may subscribe; ``None``: anyone signed in.
    :param description: one line for the docs and error messages.
    """

    name: str
    channel: str
    permission: Permission | None = None
    description: str = ""
