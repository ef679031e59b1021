"""Constants of the Overseerr plugin: keys, Overseerr's numbers and headers, defaults."""

from __future__ import annotations

from typing import Final

PLUGIN_KEY: Final = "overseerr"
"""The plugin key: entry-point name, settings section, provider id prefix, log field."""

HEADER_API_KEY: Final = "X-Api-Key"
"""Overseerr's API key header: the key authenticates as Overseerr's admin (user 1)."""
HEADER_API_USER: Final = "X-Api-User"
"""Sent with the key to act as another Overseerr user (``server/middleware/auth.ts``)."""

DEFAULT_TIMEOUT_SECONDS: Final = 10.0
HEALTH_TIMEOUT_SECONDS: Final = 5.0
"""``health()`` gives up after this long even when the instance's timeout is longer."""

USER_PAGE_SIZE: Final = 100
"""Users read per ``GET /user`` page while building the attribution directory."""
USER_DIRECTORY_TTL_SECONDS: Final = 300.0
"""How long the directory of Overseerr users is kept in the hub's cache."""
USER_DIRECTORY_REFRESH_SECONDS: Final = 30.0
"""A person not in the directory triggers a fresh read only if it is older than this."""
REQUEST_PAGE_SIZE: Final = 100
"""Requests read per ``GET /request`` page when looking statuses up (``request_status``)."""
MAX_STATUS_PAGES: Final = 100
"""``request_status`` reads at most this many pages (10,000 requests) per call."""

WEBHOOK_REPLAY_SECONDS: Final = 300.0
"""A webhook body seen again within this window is refused as a replay."""

TMDB_IMAGE_BASE: Final = "https://image.tmdb.org/t/p"
"""Overseerr's pictures are TMDB paths; browsers load them from TMDB's public CDN."""
POSTER_SIZE: Final = "w500"
BACKDROP_SIZE: Final = "w1280"

# MediaRequest.status (server/constants/media.ts); Seerr adds 5 = completed.
REQUEST_PENDING: Final = 1
REQUEST_APPROVED: Final = 2
REQUEST_DECLINED: Final = 3
REQUEST_FAILED: Final = 4
REQUEST_COMPLETED: Final = 5

# MediaInfo.status; Seerr adds 6 = blocklisted, 7 = deleted.
MEDIA_UNKNOWN: Final = 1
MEDIA_PENDING: Final = 2
MEDIA_PROCESSING: Final = 3
MEDIA_PARTIALLY_AVAILABLE: Final = 4
MEDIA_AVAILABLE: Final = 5
