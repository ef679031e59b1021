"""Constants of the Plex plugin: keys, Plex type numbers, headers and defaults."""

from __future__ import annotations

from typing import Final

from medianest.sdk import MediaKind, events

PLUGIN_KEY: Final = "plex"
"""The plugin key: entry-point name, settings section, flag and job prefix, log field."""

PLUGIN_VERSION: Final = "0.1.0"
"""Sent to Plex as ``X-Plex-Version``."""

AUTH_PROVIDER_ID: Final = PLUGIN_KEY
"""The id of the Plex sign-in provider."""

FLAG_WEBHOOKS: Final = "plex.webhooks"
"""Runtime flag: act on webhooks Plex servers send."""

DEFAULT_PLEXTV_URL: Final = "https://plex.tv"
DEFAULT_AUTH_APP_URL: Final = "https://app.plex.tv/auth"
DEFAULT_PRODUCT: Final = "MediaNest"
DEFAULT_TIMEOUT_SECONDS: Final = 10.0
DEFAULT_PAGE_SIZE: Final = 1000
MAX_PAGE_SIZE: Final = 1000
DEFAULT_CHANGES_OVERLAP_SECONDS: Final = 300
HEALTH_TIMEOUT_SECONDS: Final = 5.0
"""``health()`` gives up after this long even when the server's timeout is longer."""

CLIENT_IDENTIFIER_NAMESPACE: Final = "medianest-plex"
"""Mixed into the uuid5 that makes the default ``X-Plex-Client-Identifier``."""

PLATFORM: Final = "MediaNest"
DEVICE: Final = "MediaNest hub"

HEADER_CLIENT_IDENTIFIER: Final = "X-Plex-Client-Identifier"
HEADER_PRODUCT: Final = "X-Plex-Product"
HEADER_VERSION: Final = "X-Plex-Version"
HEADER_PLATFORM: Final = "X-Plex-Platform"
HEADER_DEVICE: Final = "X-Plex-Device"
HEADER_DEVICE_NAME: Final = "X-Plex-Device-Name"
HEADER_TOKEN: Final = "X-Plex-Token"  # noqa: S105 - a header name
HEADER_CONTAINER_START: Final = "X-Plex-Container-Start"
HEADER_CONTAINER_SIZE: Final = "X-Plex-Container-Size"
HEADER_CONTAINER_TOTAL_SIZE: Final = "X-Plex-Container-Total-Size"

TYPE_MOVIE: Final = 1
TYPE_SHOW: Final = 2
TYPE_SEASON: Final = 3
TYPE_EPISODE: Final = 4
TYPE_ARTIST: Final = 8
TYPE_ALBUM: Final = 9
TYPE_TRACK: Final = 10
TYPE_COLLECTION: Final = 18

SECTION_TYPES: Final[dict[str, tuple[int, ...]]] = {
    "movie": (TYPE_MOVIE,),
    "show": (TYPE_SHOW, TYPE_SEASON, TYPE_EPISODE),
}
"""Library section type → the Plex item types a full walk lists, parents before children."""

KIND_BY_PLEX_TYPE: Final[dict[str, MediaKind]] = {
    "movie": MediaKind.MOVIE,
    "show": MediaKind.SHOW,
    "season": MediaKind.SEASON,
    "episode": MediaKind.EPISODE,
    "artist": MediaKind.ARTIST,
    "album": MediaKind.ALBUM,
    "track": MediaKind.TRACK,
    "clip": MediaKind.VIDEO,
    "collection": MediaKind.COLLECTION,
    "playlist": MediaKind.PLAYLIST,
}
"""Plex ``type`` strings MediaNest understands, and the kind each becomes."""

PLAYBACK_EVENTS: Final = events.PLAYBACK_EVENTS
"""Webhook events re-emitted as domain events of the same name (the SDK's playback types)."""

LIBRARY_NEW_EVENT: Final = "library.new"
"""Webhook event that triggers an incremental sync of its server."""
