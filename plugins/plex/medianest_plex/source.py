"""One Plex Media Server as a MediaNest media source (``plex:<name>``).

The source maps Plex's library API onto the SDK's ``MediaSource`` protocol and nothing more:
core decides when to sync, retries, caches and applies its own timeouts.

- ``list_library`` walks every movie and show section: movies, then shows, seasons and
  episodes (Plex types 1, 2, 3, 4), each sorted by ``addedAt`` so items added during a walk
  land at its end.
- ``list_changes`` walks the same segments twice, filtered by ``addedAt>>=`` and then by
  ``updatedAt>>=`` (PMS filters are ANDed, so "added or updated" takes two passes), starting
  ``changes_overlap_seconds`` before the checkpoint. Items may repeat; core de-duplicates.
- Listings skip a malformed item with a warning naming it (one bad item must not stall a
  sync); ``get_item`` raises ``UpstreamDataError`` for it instead.
- A call asks the server for at most ``page_size`` items per request (``page_size`` is
  also what core's sync engine asks per call; the engine reads one page ahead itself), and
  one whose ``limit`` is larger makes several requests in turn.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable
from typing import Any

import httpx

from medianest.sdk import (
    ChangesPage,
    HealthStatus,
    ImageData,
    InvalidInputError,
    MediaItem,
    NotFoundError,
    Page,
    SearchQuery,
    SourceCapability,
    UpstreamDataError,
    UpstreamError,
)
from medianest_plex.client import ClientIdentity
from medianest_plex.const import (
    HEALTH_TIMEOUT_SECONDS,
    KIND_BY_PLEX_TYPE,
    PLUGIN_KEY,
    SECTION_TYPES,
)
from medianest_plex.cursors import (
    ALL,
    CHANGES,
    LIBRARY,
    Segment,
    Walk,
    decode_checkpoint,
    encode_checkpoint,
)
from medianest_plex.mapping import ItemMapper
from medianest_plex.pms import PlexServerClient, Slice
from medianest_plex.settings import ServerSettings

log = logging.getLogger(__name__)

_RATING_KEY = re.compile(r"^[0-9]{1,20}$")
_CHANGE_FIELDS = ("addedAt", "updatedAt")
_IMAGE_ACCEPT = "image/jpeg, image/png, image/webp, image/gif"


class PlexMediaSource:
    """A Plex Media Server, read with its owner's token.

    :param server: the server's settings; the source id is ``plex:<server.name>``.
    :param identity: the ``X-Plex-*`` identification this hub sends.
    :param page_size: the most items asked of the server in one request.
    :param overlap_seconds: how far before a checkpoint ``list_changes`` starts looking.
    :param transport: an httpx transport to use instead of the network (tests only).
    """

    capabilities = frozenset(
        {
            SourceCapability.SEARCH,
            SourceCapability.LIBRARY,
            SourceCapability.CHANGES,
            SourceCapability.COUNT,
            SourceCapability.RECENTLY_ADDED,
            SourceCapability.HEALTH,
            SourceCapability.IMAGES,
        }
    )

    def __init__(
        self,
        server: ServerSettings,
        *,
        identity: ClientIdentity,
        page_size: int,
        overlap_seconds: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.id = server.source_id
        self.name = f"Plex ({server.name})"
        self.server = server
        self.page_size = page_size
        self.overlap_seconds = overlap_seconds
        self.client = PlexServerClient(
            base_url=server.url,
            label=f"Plex server '{server.name}'",
            source=self.id,
            identity=identity,
            timeout=server.timeout,
            verify=server.verify_tls,
            token=server.token.get_secret_value(),
            transport=transport,
        )
        self.mapper = ItemMapper(self.id, server.url, server.machine_identifier)

    async def aclose(self) -> None:
        """Release the HTTP connections; called by the plugin's ``shutdown``."""
        await self.client.aclose()

    async def machine_identifier(self) -> str:
        """The server's ``machineIdentifier`` (configured, or learned once from ``/identity``).

        :raises UpstreamError: the server could not be asked.
        """
        if self.mapper.machine_identifier is None:
            identity = await self.client.identity()
            self.mapper.machine_identifier = str(identity["machineIdentifier"])
        return self.mapper.machine_identifier

    # -- MediaSource -----------------------------------------------------------------------

    async def search(self, query: SearchQuery) -> list[MediaItem]:
        """Live search through ``/hubs/search``, filtered by ``query.kinds`` and ``query.year``."""
        found: list[MediaItem] = []
        seen: set[str] = set()
        raws = await self.client.search(query.text, query.limit)
        media = [raw for raw in raws if raw.get("type") in KIND_BY_PLEX_TYPE]
        for item in self._map_all(media):
            if item.ref.item_id in seen:
                continue
            if query.kinds and item.kind not in query.kinds:
                continue
            if query.year is not None and item.year != query.year:
                continue
            seen.add(item.ref.item_id)
            found.append(item)
        return found[: query.limit]

    async def get_item(self, item_id: str) -> MediaItem:
        """The item whose ratingKey is ``item_id``.

        :raises NotFoundError: the server has no such item.
        :raises UpstreamDataError: the server's answer for it is malformed.
        """
        if not _RATING_KEY.fullmatch(item_id):
            raise NotFoundError(f"{self.id} has no item {item_id[:40]!r}", plugin=PLUGIN_KEY)
        try:
            raw = await self.client.metadata(item_id)
        except NotFoundError as exc:
            raise NotFoundError(f"{self.id} has no item {item_id}", plugin=PLUGIN_KEY) from exc
        return self.mapper.map(raw)

    async def list_library(self, cursor: str | None, limit: int) -> Page[MediaItem]:
        """A page of every movie, show, season and episode; ``total`` counts them all.

        The last page carries the changes checkpoint of the library as the walk began (the
        newest ``updatedAt`` then), so changes made while it ran are read by the next
        ``list_changes``.
        """
        _check_limit(limit)
        if cursor is None:
            plan = await self._segments((ALL,))
            counts, newest = await asyncio.gather(
                asyncio.gather(*(self._count(s) for s in plan)),
                asyncio.gather(*(self._newest(s) for s in plan)),
            )
            walk = Walk(kind=LIBRARY, plan=plan, total=sum(counts), newest=max(newest, default=0))
        else:
            walk = Walk.decode(cursor, LIBRARY)
        items = await self._read(walk, limit)
        following = walk.encode()
        checkpoint = encode_checkpoint(walk.newest) if following is None and walk.newest else None
        return Page(items=items, next_cursor=following, total=walk.total, checkpoint=checkpoint)

    async def list_changes(self, since: str | None, cursor: str | None, limit: int) -> ChangesPage:
        """Items added or updated after ``since`` (minus the overlap window); see the module."""
        _check_limit(limit)
        if cursor is not None:
            walk = Walk.decode(cursor, CHANGES)
        elif since is None:
            walk = Walk(kind=CHANGES, plan=await self._segments((ALL,)))
        else:
            newest = decode_checkpoint(since)
            walk = Walk(
                kind=CHANGES,
                plan=await self._segments(_CHANGE_FIELDS),
                since=max(0, newest - self.overlap_seconds),
                newest=newest,
            )
        items = await self._read(walk, limit)
        for item in items:
            for moment in (item.added_at, item.updated_at):
                if moment is not None:
                    walk.newest = max(walk.newest, int(moment.timestamp()))
        return ChangesPage(
            items=items, next_cursor=walk.encode(), checkpoint=encode_checkpoint(walk.newest)
        )

    async def count(self) -> int:
        """Movies + shows + seasons + episodes, from ``totalSize`` with a page size of 0."""
        plan = await self._segments((ALL,))
        return sum(await asyncio.gather(*(self._count(s) for s in plan)))

    async def recently_added(self, limit: int) -> list[MediaItem]:
        """The newest items of ``/library/recentlyAdded``, newest first."""
        _check_limit(limit)
        page = await self.client.page(
            "/library/recentlyAdded", start=0, size=limit, params=[("includeGuids", 1)]
        )
        return list(self._map_all(page.items))[:limit]

    async def health(self) -> HealthStatus:
        """Whether ``/identity`` answers (within 5 s at most), with its latency."""
        started = time.perf_counter()
        limit = min(self.server.timeout, HEALTH_TIMEOUT_SECONDS)
        try:
            identity = await self.client.identity(time_limit=limit)
        except (UpstreamError, NotFoundError) as exc:
            return HealthStatus(ok=False, detail=exc.message, latency_ms=_ms_since(started))
        latency = _ms_since(started)
        machine = str(identity["machineIdentifier"])
        expected = self.mapper.machine_identifier
        if expected is not None and expected != machine:
            return HealthStatus(
                ok=False,
                detail=f"{self.id} answers as server {machine}, expected {expected}",
                latency_ms=latency,
            )
        self.mapper.machine_identifier = machine
        version = identity.get("version")
        detail = f"Plex Media Server {version}" if isinstance(version, str) else "Plex Media Server"
        return HealthStatus(ok=True, detail=detail, latency_ms=latency)

    async def fetch_image(self, item_id: str, kind: str, width: int) -> ImageData:
        """The item's picture ``kind`` through the server's photo transcoder
        (``/photo/:/transcode``), ``width`` wide and as tall as the kind's shape (2:3 for a
        poster, 16:9 otherwise). The token travels in its header, as on every request.

        :raises NotFoundError: no such item, or it has no picture of that kind.
        :raises UpstreamError: the server failed or could not be reached.
        """
        if not _RATING_KEY.fullmatch(item_id):
            raise NotFoundError(f"{self.id} has no item {item_id[:40]!r}", plugin=PLUGIN_KEY)
        try:
            raw = await self.client.metadata(item_id)
        except NotFoundError as exc:
            raise NotFoundError(f"{self.id} has no item {item_id}", plugin=PLUGIN_KEY) from exc
        path = self.mapper.image_path(raw, kind)
        if path is None:
            raise NotFoundError(f"{self.id} item {item_id} has no {kind}", plugin=PLUGIN_KEY)
        height = width * 3 // 2 if kind == "poster" else width * 9 // 16
        response = await self.client.request(
            "GET",
            "/photo/:/transcode",
            params=[("url", path), ("width", width), ("height", height), ("minSize", 1)],
            headers={"Accept": _IMAGE_ACCEPT},
        )
        content_type = response.headers.get("content-type", "application/octet-stream")
        return ImageData(data=response.content, content_type=content_type)

    # -- walking ---------------------------------------------------------------------------

    async def _segments(self, fields: Iterable[str]) -> list[Segment]:
        sections = await self.client.sections()
        plan: list[Segment] = []
        for field in fields:
            for section in sections:
                section_type = section.get("type")
                types = SECTION_TYPES.get(section_type) if isinstance(section_type, str) else None
                for plex_type in types or ():
                    plan.append(Segment(field, str(section["key"]), plex_type))
        return plan

    def _params(self, segment: Segment, since: int | None) -> list[tuple[str, str | int]]:
        params: list[tuple[str, str | int]] = [("type", segment.plex_type)]
        if segment.field == ALL:
            params.append(("sort", "addedAt"))
        else:
            params.append(("sort", segment.field))
            params.append((f"{segment.field}>>", since or 0))
        params.append(("includeGuids", 1))
        return params

    async def _newest(self, segment: Segment) -> int:
        """The newest ``updatedAt`` (or ``addedAt``) of the segment's items, 0 when empty."""
        try:
            page = await self.client.page(
                _section_path(segment),
                start=0,
                size=1,
                params=[("type", segment.plex_type), ("sort", "updatedAt:desc")],
            )
        except NotFoundError:
            return 0
        moments = [
            raw.get(field)
            for raw in page.items
            for field in _CHANGE_FIELDS
            if isinstance(raw, dict)
        ]
        return max((m for m in moments if type(m) is int and m > 0), default=0)

    async def _count(self, segment: Segment) -> int:
        try:
            return await self.client.count(
                _section_path(segment), params=[("type", segment.plex_type)]
            )
        except NotFoundError:
            return 0

    async def _read(self, walk: Walk, limit: int) -> list[MediaItem]:
        """Read segments from the walk's position until ``limit`` items or the end."""
        items: list[MediaItem] = []
        while len(items) < limit and not walk.done:
            segment = walk.current()
            asked = min(limit - len(items), self.page_size)
            path = _section_path(segment)
            try:
                page = await self.client.page(
                    path, start=walk.offset, size=asked, params=self._params(segment, walk.since)
                )
            except NotFoundError:
                log.warning("%s: section %s vanished during a walk", self.id, segment.section)
                walk.advance(0, exhausted=True)
                continue
            items.extend(self._map_all(page.items))
            walk.advance(len(page.items), exhausted=_exhausted(page, walk.offset, asked))
        return items

    def _map_all(self, raws: list[dict[str, Any]]) -> Iterable[MediaItem]:
        """Map items, skipping with a warning those that are malformed."""
        for raw in raws:
            try:
                yield self.mapper.map(raw)
            except UpstreamDataError as exc:
                log.warning("skipping a malformed item: %s", exc.message)


def _section_path(segment: Segment) -> str:
    return f"/library/sections/{segment.section}/all"


def _exhausted(page: Slice, offset: int, asked: int) -> bool:
    read = len(page.items)
    if read < asked:
        return True
    return page.total is not None and offset + read >= page.total


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise InvalidInputError("limit must be at least 1", field="limit", plugin=PLUGIN_KEY)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
