"""One Overseerr instance as a live-search :class:`~medianest.sdk.MediaSource`.

Overseerr searches TMDB (``GET /search``), so every unified search shows titles that can be
requested even when no library has them: movies and shows only (people are skipped), with
their TMDB id (and IMDb/TVDB ids when Overseerr knows them), year, poster and backdrop (TMDB's
public image URLs, which browsers load directly; no ``images`` capability is needed), and
``extra["requestable"]`` (false once Overseerr says the title is available).
``get_item("movie:603")`` / ``get_item("tv:1399")`` read ``/movie/{id}`` and ``/tv/{id}``
(a show's seasons are in ``extra["seasons"]``). Searches and details are read with the
instance's key: they attribute nothing to anyone.
"""

from __future__ import annotations

from typing import Any

from medianest.sdk import (
    HealthStatus,
    MediaItem,
    SearchQuery,
    SourceCapability,
)
from medianest.sdk.errors import NotFoundError
from medianest_overseerr.client import OverseerrClient
from medianest_overseerr.const import PLUGIN_KEY
from medianest_overseerr.health import check_instance
from medianest_overseerr.mapping import MEDIA_TYPES, BadShape, parse_item_id, to_item
from medianest_overseerr.settings import InstanceSettings

MAX_SEARCH_PAGES = 3
"""Overseerr answers 20 results a page; a search reads at most this many pages."""
_SEARCHABLE = frozenset(MEDIA_TYPES.values())


class OverseerrMediaSource:
    """Titles that can be requested through one Overseerr instance (``overseerr:<name>``)."""

    capabilities = frozenset({SourceCapability.LIVE_SEARCH, SourceCapability.HEALTH})

    def __init__(self, instance: InstanceSettings, client: OverseerrClient) -> None:
        self.instance = instance
        self.client = client
        self.id = instance.provider_id
        self.name = f"Overseerr '{instance.name}'"

    async def aclose(self) -> None:
        """Close the HTTP client (shared with the instance's request backend)."""
        if not self.client.closed:
            await self.client.aclose()

    async def health(self) -> HealthStatus:
        """Whether the instance answers and accepts the key (never raises)."""
        return await check_instance(self.client)

    async def search(self, query: SearchQuery) -> list[MediaItem]:
        """Movies and shows matching ``query.text`` in Overseerr's (TMDB's) search, in its
        order, filtered by ``query.kinds`` and ``query.year``, at most ``query.limit``."""
        kinds = (query.kinds & _SEARCHABLE) if query.kinds else _SEARCHABLE
        if not kinds:
            return []
        found: list[MediaItem] = []
        seen: set[str] = set()
        for page in range(1, MAX_SEARCH_PAGES + 1):
            body, _ = await self.client.call_json(
                "GET", "/search", query=[("query", query.text), ("page", page)]
            )
            results = body.get("results") if isinstance(body, dict) else None
            if not isinstance(results, list):
                raise self.client.data_error("answered GET /search without a list of results")
            for raw in results:
                item = self._item(raw, "GET /search")
                if item is None or item.kind not in kinds or item.ref.item_id in seen:
                    continue
                if query.year is not None and item.year != query.year:
                    continue
                seen.add(item.ref.item_id)
                found.append(item)
                if len(found) >= query.limit:
                    return found
            pages = body.get("totalPages")
            if not results or not isinstance(pages, int) or page >= pages:
                break
        return found

    async def get_item(self, item_id: str) -> MediaItem:
        """A movie (``movie:<tmdb>``) or show (``tv:<tmdb>``, with its seasons) by id.

        :raises NotFoundError: not an id of this source, or TMDB has no such title.
        """
        parsed = parse_item_id(item_id)
        if parsed is None:
            raise NotFoundError(
                f"{self.name} has no title {item_id[:40]!r} (ids look like movie:603 or tv:1399)",
                plugin=PLUGIN_KEY,
            )
        media_type, tmdb = parsed
        path = f"/{media_type}/{tmdb}"
        body, _ = await self.client.call_json("GET", path)
        if isinstance(body, dict):
            body = {**body, "mediaType": media_type}
        item = self._item(body, f"GET {path}")
        if item is None or item.kind is not MEDIA_TYPES[media_type]:
            raise self.client.data_error(f"answered GET {path} with something else")
        return item

    def _item(self, raw: Any, what: str) -> MediaItem | None:
        try:
            return to_item(self.id, raw)
        except BadShape as exc:
            raise self.client.data_error(
                f"answered {what} with a title it cannot be: {exc}"
            ) from exc
