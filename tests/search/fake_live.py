"""A live-search media source held in memory, for driving unified search into corners: slow,
failing, hanging or misbehaving sources, switched by a test at any moment.

Use it like any plugin::

    tube = FakeLiveSource("fakelive:tube", ["Star Wars", "Star Trek"], latency=0.05)
    async with medianest_hub.run({"fakelive": FakeLivePlugin(tube)}, **mode) as running:
        tube.mode = "hang"
        ...

Source ids must start with the plugin key given to ``medianest_hub.run`` (``fakelive``
above): each plugin key gets its own runtime flag ``<key>.search``, so two sources whose
searches must be switched separately belong in two plugins (``{"fakelive": ...,
"otherlive": ...}``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from medianest.sdk import (
    HealthStatus,
    MediaItem,
    MediaKind,
    NotFoundError,
    SearchQuery,
    SourceCapability,
    UpstreamError,
    hookimpl,
)

Mode = Literal["ok", "error", "hang", "bad", "foreign", "crash"]
"""How :meth:`FakeLiveSource.search` behaves:

- ``ok``: answers from its items (after ``latency`` seconds);
- ``error``: raises :attr:`FakeLiveSource.error` (an ``UpstreamError`` unless a test set
  another);
- ``hang``: never answers (awaits forever; cancellation ends it);
- ``bad``: returns plain dicts instead of ``MediaItem`` (a plugin breaking the protocol);
- ``foreign``: returns items whose ``ref.source`` is another source's id;
- ``crash``: raises ``RuntimeError`` (a bug in the plugin).
"""

LIVE_SEARCH_SETTINGS: dict[str, Any] = {
    "timeout_seconds": 0.3,
    "breaker_failures": 3,
    "breaker_reset_seconds": 30,
}
"""``search`` settings for tests: quick timeouts and a circuit that opens after three failures
and stays open (tests that need it to half-open move the breakers' clock or set a short
reset themselves)."""

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_WORD = re.compile(r"[^\W_]+")


def live_item(
    source: str,
    title: str,
    *,
    item_id: str | None = None,
    kind: MediaKind | str = MediaKind.MOVIE,
    year: int | None = None,
    **fields: Any,
) -> MediaItem:
    """One item of ``source`` titled ``title`` (other ``MediaItem`` fields as keywords)."""
    return MediaItem.model_validate(
        {
            "kind": kind,
            "title": title,
            "ref": {"source": source, "item_id": item_id or _slug(title)},
            "year": year,
            **fields,
        }
    )


class FakeLiveSource:
    """A media source that can only be searched live, over items in memory.

    :param source_id: its id, ``<plugin key>:<instance>``.
    :param items: ``MediaItem`` objects, or titles (films numbered in order, added an hour
        apart from 2024-01-01).
    :param latency: seconds every search waits before answering (any mode but ``hang``).
    :param name: its human name; default ``Fake live <instance>``.

    Attributes a test may read or set at any time: :attr:`mode`, :attr:`latency`,
    :attr:`error`, :attr:`items`, :attr:`healthy`; :attr:`calls` counts searches,
    :attr:`queries` keeps what each asked and :attr:`cancelled` counts hanging searches that
    were given up on.
    """

    def __init__(
        self,
        source_id: str,
        items: Iterable[MediaItem | str] = (),
        *,
        latency: float = 0.0,
        name: str | None = None,
    ) -> None:
        self.id = source_id
        self.name = name or f"Fake live {source_id.partition(':')[2] or source_id}"
        self.capabilities = frozenset({SourceCapability.LIVE_SEARCH, SourceCapability.HEALTH})
        self.items = [
            item
            if isinstance(item, MediaItem)
            else live_item(source_id, item, item_id=str(n), added_at=EPOCH + timedelta(hours=n))
            for n, item in enumerate(items, start=1)
        ]
        self.latency = latency
        self.mode: Mode = "ok"
        self.error: Exception = UpstreamError(
            f"{self.name} answered 503", source=source_id, status=503
        )
        self.healthy = True
        self.calls = 0
        self.queries: list[SearchQuery] = []
        self.cancelled = 0
        """Searches that were hanging when the hub gave up on them."""
        self.closed = 0

    async def search(self, query: SearchQuery) -> list[Any]:
        """Items whose title has a word starting with each word of the text, best first
        (exact title, then title prefix, then the rest), filtered by kind and year."""
        self.calls += 1
        self.queries.append(query)
        mode = self.mode
        if mode == "hang":
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        if self.latency:
            await asyncio.sleep(self.latency)
        if mode == "error":
            raise self.error
        if mode == "crash":
            raise RuntimeError("the fake source fell over")
        found = self.matching(query)
        if mode == "bad":
            return [{"title": item.title} for item in found] or [{"title": "not an item"}]
        if mode == "foreign":
            other = f"{self.id.split(':', 1)[0]}:elsewhere"
            return [
                item.model_copy(update={"ref": item.ref.model_copy(update={"source": other})})
                for item in found
            ] or [live_item(other, "Somewhere Else")]
        return found

    def matching(self, query: SearchQuery) -> list[MediaItem]:
        """What mode ``ok`` answers ``query`` with (without counting a call)."""
        words = _WORD.findall(query.text.lower())
        text = " ".join(query.text.lower().split())
        hits = []
        for item in self.items:
            if query.kinds and item.kind not in query.kinds:
                continue
            if query.year is not None and item.year != query.year:
                continue
            title = item.title.lower()
            title_words = _WORD.findall(title)
            if words and all(any(t.startswith(w) for t in title_words) for w in words):
                rank = 0 if title == text else 1 if title.startswith(text) else 2
                hits.append((rank, len(hits), item))
        return [item for _, _, item in sorted(hits, key=lambda hit: hit[:2])][: query.limit]

    async def get_item(self, item_id: str) -> MediaItem:
        for item in self.items:
            if item.ref.item_id == item_id:
                return item
        raise NotFoundError(f"no item {item_id!r} in {self.id}", plugin=self.id.split(":")[0])

    async def health(self) -> HealthStatus:
        if self.healthy:
            return HealthStatus(ok=True, detail=f"{len(self.items)} items")
        return HealthStatus(ok=False, detail="switched off for a test")

    async def aclose(self) -> None:
        self.closed += 1


class FakeLivePlugin:
    """A plugin offering the given fake live sources (give it under their ids' key)."""

    def __init__(self, *sources: FakeLiveSource) -> None:
        self.sources = list(sources)

    @hookimpl
    def register_media_sources(self) -> list[FakeLiveSource]:
        return self.sources


def _slug(title: str) -> str:
    return "-".join(_WORD.findall(title.lower())) or "item"
