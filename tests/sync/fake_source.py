"""A media source held in memory, for driving the sync engine into corners: a walk that
stops where a test says, pages that fail, and plugin output that breaks the protocol."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from medianest.sdk import (
    ChangesPage,
    HealthStatus,
    MediaItem,
    Page,
    SearchQuery,
    SourceCapability,
    decode_cursor,
    encode_cursor,
    hookimpl,
)

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

PageHook = Callable[[int], Awaitable[Any]]
"""Called with the 1-based number of each page before it is returned; may raise or wait."""


def movie(source: str, number: int, *, title: str | None = None) -> MediaItem:
    """Film ``number`` of ``source``."""
    return MediaItem.model_validate(
        {
            "kind": "movie",
            "title": title or f"Film {number}",
            "ref": {"source": source, "item_id": str(number)},
            "year": 1990 + number % 30,
            "ids": {"tmdb": 10_000 + number},
            "added_at": EPOCH + timedelta(minutes=number),
            "updated_at": EPOCH + timedelta(minutes=number),
        }
    )


class FakeLibrary:
    """A library of films in memory, walked by offset; ``changes`` optional."""

    name = "Fake library"

    def __init__(self, source_id: str, size: int, *, changes: bool = True) -> None:
        self.id = source_id
        self.items = [movie(source_id, n) for n in range(1, size + 1)]
        self.capabilities = frozenset(
            {SourceCapability.LIBRARY, SourceCapability.HEALTH}
            | ({SourceCapability.CHANGES} if changes else set())
        )
        self.on_page: PageHook | None = None
        self.cursors: list[str | None] = []
        self.limits: list[int] = []
        """The ``limit`` of every page asked for, in order."""
        self.pages_served = 0
        self.result: Callable[[Page[MediaItem]], Any] | None = None
        self.walk_checkpoints = False
        """Whether library walks end with a changes checkpoint."""

    async def _page(self, items: list[MediaItem], cursor: str | None, limit: int) -> Any:
        self.cursors.append(cursor)
        self.limits.append(limit)
        offset = decode_cursor(cursor)["o"] if cursor else 0
        chunk = items[offset : offset + limit]
        end = offset + len(chunk)
        self.pages_served += 1
        if self.on_page is not None:
            await self.on_page(self.pages_served)
        next_cursor = encode_cursor({"o": end}) if end < len(items) else None
        return Page(items=chunk, next_cursor=next_cursor, total=len(items)), end

    async def list_library(self, cursor: str | None, limit: int) -> Any:
        page, _ = await self._page(self.items, cursor, limit)
        if self.walk_checkpoints and page.next_cursor is None:
            page = page.model_copy(update={"checkpoint": self._newest().isoformat()})
        return self.result(page) if self.result is not None else page

    def _newest(self) -> datetime:
        return max((i.updated_at or EPOCH for i in self.items), default=EPOCH)

    async def list_changes(self, since: str | None, cursor: str | None, limit: int) -> ChangesPage:
        after = datetime.fromisoformat(since) if since else None
        changed = [i for i in self.items if after is None or (i.updated_at or EPOCH) >= after]
        page, _ = await self._page(changed, cursor, limit)
        return ChangesPage(
            items=page.items, next_cursor=page.next_cursor, checkpoint=self._newest().isoformat()
        )

    async def search(self, query: SearchQuery) -> list[MediaItem]:
        return [i for i in self.items if query.text.lower() in i.title.lower()][: query.limit]

    async def get_item(self, item_id: str) -> MediaItem:
        return next(i for i in self.items if i.ref.item_id == item_id)

    async def count(self) -> int:
        return len(self.items)

    async def recently_added(self, limit: int) -> list[MediaItem]:
        return self.items[-limit:]

    async def health(self) -> HealthStatus:
        return HealthStatus(ok=True)


class FakePlugin:
    """A plugin offering the given fake libraries."""

    def __init__(self, *sources: FakeLibrary) -> None:
        self.sources = list(sources)

    @hookimpl
    def register_media_sources(self) -> list[FakeLibrary]:
        return self.sources


def stop_at(page: int, reached: asyncio.Event) -> PageHook:
    """A page hook that hangs from page ``page`` on (the walk is "killed" there)."""

    async def hook(number: int) -> None:
        if number >= page:
            reached.set()
            await asyncio.Event().wait()

    return hook
