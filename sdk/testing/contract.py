"""The media-source contract: what core relies on from every ``MediaSource``.

Subclass :class:`MediaSourceContract` in your plugin's tests and provide a ``media_source``
fixture returning a ready source (talking to your simulator)::

    class TestMySource(MediaSourceContract):
        @pytest.fixture
        async def media_source(self, my_simulator):
            return MySource(...)

Tests for capabilities the source does not declare are skipped, with that reason. The
tests are marked ``asyncio`` (pytest-asyncio, which the SDK's ``testing`` extra installs);
in pytest-asyncio's strict mode make your fixture a ``pytest_asyncio.fixture``.
"""

from __future__ import annotations

import re
from typing import cast

import pytest

from medianest.sdk.errors import InvalidInputError, NotFoundError
from medianest.sdk.models import (
    PROVIDER_ID_PATTERN,
    ChangesPage,
    HealthStatus,
    MediaItem,
    Page,
    SearchQuery,
)
from medianest.sdk.providers import (
    CAPABILITY_PROTOCOLS,
    ChangesSource,
    CountingSource,
    HealthCheckedSource,
    ImageData,
    ImageSource,
    LibrarySource,
    MediaSource,
    RecentlyAddedSource,
    SearchableSource,
    SourceCapability,
)

PAGE = 50
MAX_PAGES = 10_000


def _needs(source: MediaSource, *capabilities: SourceCapability) -> None:
    if not any(capability in source.capabilities for capability in capabilities):
        pytest.skip(f"{source.id} does not declare {' or '.join(c.value for c in capabilities)}")


async def walk_library(source: LibrarySource, limit: int = PAGE) -> list[MediaItem]:
    """Every item of the library, page by page."""
    items: list[MediaItem] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await source.list_library(cursor, limit)
        assert isinstance(page, Page)
        assert len(page.items) <= limit, "a page holds at most `limit` items"
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return items
    raise AssertionError(f"the library did not end after {MAX_PAGES} pages")


class MediaSourceContract:
    """Behaviour every media source shows. Needs a ``media_source`` fixture."""

    pytestmark = pytest.mark.asyncio

    async def test_identity(self, media_source: MediaSource) -> None:
        assert isinstance(media_source, MediaSource)
        assert re.match(PROVIDER_ID_PATTERN, media_source.id)
        assert media_source.name
        assert all(isinstance(c, SourceCapability) for c in media_source.capabilities)

    async def test_declared_capabilities_have_their_methods(
        self, media_source: MediaSource
    ) -> None:
        for capability in media_source.capabilities:
            protocol = CAPABILITY_PROTOCOLS[SourceCapability(capability)]
            assert isinstance(media_source, protocol), f"{capability} needs {protocol.__name__}"

    async def test_health_answers(self, media_source: HealthCheckedSource) -> None:
        _needs(media_source, SourceCapability.HEALTH)
        status = await media_source.health()
        assert isinstance(status, HealthStatus)
        assert status.ok, status.detail

    async def test_library_pages_cover_everything_once(self, media_source: LibrarySource) -> None:
        _needs(media_source, SourceCapability.LIBRARY)
        items = await walk_library(media_source)
        keys = [item.ref.item_id for item in items]
        assert len(keys) == len(set(keys)), "an item appeared on two pages"
        assert all(item.ref.source == media_source.id for item in items)

    async def test_count_matches_the_library(self, media_source: LibrarySource) -> None:
        _needs(media_source, SourceCapability.COUNT)
        _needs(media_source, SourceCapability.LIBRARY)
        assert await cast(CountingSource, media_source).count() == len(
            await walk_library(media_source)
        )

    async def test_library_page_reports_total(self, media_source: LibrarySource) -> None:
        _needs(media_source, SourceCapability.LIBRARY)
        first = await media_source.list_library(None, 5)
        assert first.total is None or first.total >= len(first.items)

    async def test_foreign_cursor_is_refused(self, media_source: LibrarySource) -> None:
        _needs(media_source, SourceCapability.LIBRARY)
        with pytest.raises(InvalidInputError):
            await media_source.list_library("not-a-cursor-we-made", 5)

    async def test_get_item_round_trips(self, media_source: LibrarySource) -> None:
        _needs(media_source, SourceCapability.LIBRARY)
        page = await media_source.list_library(None, 3)
        assert page.items, "the contract needs a library with items"
        item = await media_source.get_item(page.items[0].ref.item_id)
        assert item.ref == page.items[0].ref
        assert item.title == page.items[0].title

    async def test_get_unknown_item_is_not_found(self, media_source: MediaSource) -> None:
        with pytest.raises(NotFoundError):
            await media_source.get_item("999999999")

    async def test_changes_give_a_checkpoint(self, media_source: ChangesSource) -> None:
        _needs(media_source, SourceCapability.CHANGES)
        changes = await media_source.list_changes(None, None, PAGE)
        assert isinstance(changes, ChangesPage)
        assert changes.checkpoint
        again = await media_source.list_changes(changes.checkpoint, None, PAGE)
        assert isinstance(again, ChangesPage)
        assert isinstance(again.checkpoint, str) and again.checkpoint
        seen_since = {item.ref.item_id for item in again.items}
        seen_all = {item.ref.item_id for item in changes.items}
        assert len(seen_since) <= max(len(seen_all), PAGE), "changes since now outgrew changes ever"

    async def test_recently_added_newest_first(self, media_source: RecentlyAddedSource) -> None:
        _needs(media_source, SourceCapability.RECENTLY_ADDED)
        items = await media_source.recently_added(5)
        assert len(items) <= 5
        times = [i.added_at for i in items if i.added_at is not None]
        assert times == sorted(times, reverse=True)

    async def test_search_respects_limit(self, media_source: SearchableSource) -> None:
        _needs(media_source, SourceCapability.SEARCH, SourceCapability.LIVE_SEARCH)
        page = (
            await cast(LibrarySource, media_source).list_library(None, 1)
            if (SourceCapability.LIBRARY in media_source.capabilities)
            else None
        )
        text = page.items[0].title.split()[0] if page and page.items else "a"
        results = await media_source.search(SearchQuery(text=text, limit=3))
        assert len(results) <= 3
        assert all(isinstance(item, MediaItem) for item in results)

    async def test_pictures_are_images_or_not_found(self, media_source: ImageSource) -> None:
        _needs(media_source, SourceCapability.IMAGES)
        _needs(media_source, SourceCapability.LIBRARY, SourceCapability.RECENTLY_ADDED)
        if SourceCapability.LIBRARY in media_source.capabilities:
            items = (await cast(LibrarySource, media_source).list_library(None, 5)).items
        else:
            items = await cast(RecentlyAddedSource, media_source).recently_added(5)
        for item in items:
            try:
                image = await media_source.fetch_image(item.ref.item_id, "poster", 320)
            except NotFoundError:
                continue
            assert isinstance(image, ImageData)
            assert image.data, "a picture has bytes"
            kind = image.content_type.split(";", 1)[0].strip().lower()
            assert kind in ("image/jpeg", "image/png", "image/webp", "image/gif"), kind
        with pytest.raises(NotFoundError):
            await media_source.fetch_image("no-such-item-0000", "poster", 320)
