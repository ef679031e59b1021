"""Unified search: the catalogue and the live sources asked at once, merged into ranked hits.

:meth:`SearchService.search` runs the catalogue query and the live fan-out concurrently, merges
what they found into one hit per work (:mod:`medianest.core.search.merge`), looks the hits'
external ids up in the catalogue so each says where it is available, ranks and pages them.

Whole answers are also kept for a short while in this process (:class:`ResponseCache`): the
same search again costs a dictionary lookup. An answer is dropped when the catalogue changes
(every sync batch and metadata override is announced on pub/sub), when its time is up, or when
a live source's runtime flag changes (the flags are part of the key); answers with a failed or
timed-out source are never kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import structlog

from medianest.config.settings import SearchSettings
from medianest.core.registry import ProviderRegistry
from medianest.core.search.catalogue import Catalogue, CatalogueHit
from medianest.core.search.live import LiveSearch, SourceOutcome
from medianest.core.search.merge import Hit, Merger, lookup_keys
from medianest.core.search.query import MAX_OFFSET, MatchTier, SearchRequest, match_tier
from medianest.sdk import events
from medianest.sdk.errors import InvalidInputError
from medianest.sdk.models import DomainEvent, Principal
from medianest.sdk.providers import MediaSource, SourceCapability
from medianest.sdk.services import PubSub

log = structlog.get_logger(__name__)

CATALOGUE_CHANNELS = ("sync", "catalogue")
"""Pub/sub channels whose messages mean the catalogue changed."""

RESPONSE_TTL_SECONDS = 60.0
"""The longest a whole answer is reused."""

RESPONSE_CACHE_BYTES = 8 * 1024 * 1024
"""The most this process keeps of whole answers; the least recently used go first."""
ANSWER_OVERHEAD_BYTES = 700
"""What a kept answer costs besides its body (its key, statuses and the slot holding them),
counted so that many small answers (a flood of searches finding nothing) are bounded too."""

SEARCH_EVENT = events.SEARCH_PERFORMED


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """How one source took part in a search."""

    source: str
    via: str
    """``catalogue`` (answered from the synced copy) or ``live`` (asked now)."""
    status: str
    results: int = 0
    detail: str | None = None
    latency_ms: float | None = None
    cached: bool = False


@dataclass(slots=True)
class SearchResult:
    """One page of a search."""

    request: SearchRequest
    hits: list[Hit]
    next_offset: int | None
    statuses: list[SourceStatus]
    latency_ms: float
    ttl: float = 0.0
    """How long the whole answer may be reused (0: not at all)."""
    library_sources: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class KeptAnswer:
    """A rendered answer and what its search event needs."""

    body: bytes
    results: int
    statuses: dict[str, str]
    works: tuple[Any, ...] = ()
    """Per hit, in order, what the web layer looks its request mark up by (the body holds
    ``"request":null`` in each hit, filled in per caller: marks change and depend on who
    asks, so they are never kept)."""


class ResponseCache:
    """Rendered answers by key, dropped when stale, bounded in bytes (least recently used
    out first)."""

    def __init__(self, max_bytes: int = RESPONSE_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.generation = 0
        """Bumped whenever the catalogue changes: older entries are stale."""
        self._entries: OrderedDict[Any, tuple[float, int, KeptAnswer]] = OrderedDict()
        self._bytes = 0

    def get(self, key: Any) -> KeptAnswer | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, generation, body = entry
        if generation != self.generation or expires_at <= time.monotonic():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return body

    def put(self, key: Any, answer: KeptAnswer, ttl: float) -> None:
        if ttl <= 0 or len(answer.body) > self.max_bytes // 4:
            return
        self._drop(key)
        self._entries[key] = (time.monotonic() + ttl, self.generation, answer)
        self._bytes += _size(answer)
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def invalidate(self) -> None:
        """Every entry is stale from now on."""
        self.generation += 1
        self._entries.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: Any) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= _size(entry[2])


def _size(answer: KeptAnswer) -> int:
    return len(answer.body) + ANSWER_OVERHEAD_BYTES


class SearchService:
    """The unified search of one hub (``hub.search``)."""

    def __init__(
        self,
        settings: SearchSettings,
        *,
        registry: ProviderRegistry,
        catalogue: Catalogue,
        live: LiveSearch,
        emit: Callable[[DomainEvent], Coroutine[Any, Any, None]],
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.catalogue = catalogue
        self.live = live
        self._emit = emit
        self.responses = ResponseCache()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listener: asyncio.Task[None] | None = None

    # sources -------------------------------------------------------------------------------

    def library_sources(self) -> list[MediaSource]:
        """Sources whose library is synced into the catalogue (answered locally)."""
        return [
            source
            for source in self.registry.all("media_sources")
            if SourceCapability.LIBRARY in source.capabilities
        ]

    def check_sources(self, names: list[str]) -> frozenset[str]:
        """``names`` as a set of media source ids.

        :raises InvalidInputError: naming ``sources`` and listing the known ids.
        """
        known = {source.id for source in self.registry.all("media_sources")}
        unknown = sorted(set(names) - known)
        if unknown:
            listed = ", ".join(sorted(known)) or "none"
            raise InvalidInputError(
                f"unknown source {', '.join(unknown)} (known: {listed})",
                field="sources",
            )
        return frozenset(names)

    # searching -------------------------------------------------------------------------------

    def cache_key(self, request: SearchRequest) -> tuple[Any, ...]:
        """What an answer is kept under: the search, the page and the live flags' state."""
        switched = tuple(self.live.switched_on(source.id) for source in self.live.sources())
        return (request.fingerprint(), request.offset, request.limit, switched)

    async def search(self, request: SearchRequest) -> SearchResult:
        """One page of hits for ``request``, with each source's status."""
        started = time.perf_counter()
        wanted = request.sources
        library = [s.id for s in self.library_sources() if wanted is None or s.id in wanted]
        live = [s.id for s in self.live.sources() if wanted is None or s.id in wanted]
        all_library = frozenset(s.id for s in self.library_sources())
        window = min((request.offset + request.limit) * max(1, len(library)), 2 * MAX_OFFSET) + 1
        found, outcomes = await asyncio.gather(
            self._catalogue(request, library, window), self.live.search(request, live)
        )
        catalogue_ms = found[1]
        merger = Merger(all_library)
        for hit in found[0]:
            merger.add(hit.item, hit.tier)
        for outcome in outcomes:
            for item in outcome.items:
                merger.add(item, match_tier(request, item.title) or MatchTier.SOURCE)
        candidates = merger.hits()
        if candidates:
            keys = lookup_keys(member for hit in candidates for member in hit.members)
            if keys:
                for item in await self.catalogue.by_external_ids(keys, sources=all_library):
                    merger.add_copy(item)
                candidates = merger.hits()
        end = request.offset + request.limit
        more = len(candidates) > end or len(found[0]) >= window
        statuses = _catalogue_statuses(library, found[0], catalogue_ms) + [
            _live_status(outcome) for outcome in outcomes
        ]
        return SearchResult(
            request=request,
            hits=candidates[request.offset : end],
            next_offset=end if more and end < MAX_OFFSET else None,
            statuses=statuses,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            ttl=self._reuse_for(outcomes),
            library_sources=all_library,
        )

    async def _catalogue(
        self, request: SearchRequest, sources: list[str], window: int
    ) -> tuple[list[CatalogueHit], float]:
        started = time.perf_counter()
        hits = await self.catalogue.search(request, sources, window)
        return hits, round((time.perf_counter() - started) * 1000, 2)

    def _reuse_for(self, outcomes: list[SourceOutcome]) -> float:
        ttl = RESPONSE_TTL_SECONDS
        for outcome in outcomes:
            if outcome.status == "skipped" and self.live.switched_on(outcome.source):
                return 0.0  # skipped by its circuit breaker: a partial answer
            if outcome.status in ("timeout", "error"):
                return 0.0
            if outcome.status == "ok":
                ttl = min(ttl, self.settings.ttl_for(outcome.source))
        return ttl

    # events --------------------------------------------------------------------------------

    def record(
        self,
        request: SearchRequest,
        principal: Principal | None,
        *,
        results: int,
        latency_ms: float,
        cached: bool,
        statuses: dict[str, str],
    ) -> None:
        """Emit ``search.performed`` in the background (analytics must not slow a search)."""
        event = DomainEvent(
            type=SEARCH_EVENT,
            source="core",
            user_id=principal.user_id if principal is not None else None,
            data={
                "query": request.text,
                "kinds": sorted(request.kinds),
                "year": request.year,
                "sources": sorted(request.sources) if request.sources is not None else None,
                "offset": request.offset,
                "results": results,
                "latency_ms": latency_ms,
                "cached": cached,
                "statuses": statuses,
            },
        )
        task = asyncio.create_task(self._emit(event), name="search-event")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # lifecycle -----------------------------------------------------------------------------

    async def start(self, pubsub: PubSub) -> None:
        """Listen on ``pubsub`` for catalogue changes (to drop stale answers)."""
        if self._listener is None:
            ready = asyncio.Event()
            self._listener = asyncio.create_task(
                self._listen(pubsub, ready), name="search-invalidate"
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), 5)

    async def close(self) -> None:
        """Stop listening; wait for events still being emitted."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self.responses.invalidate()

    async def _listen(self, pubsub: PubSub, ready: asyncio.Event) -> None:
        """Drop every kept answer on each catalogue change; resubscribe after trouble."""
        while True:
            try:
                async with contextlib.AsyncExitStack() as stack:
                    streams = [
                        await stack.enter_async_context(pubsub.subscribe(channel))
                        for channel in CATALOGUE_CHANNELS
                    ]
                    ready.set()
                    await asyncio.gather(*(self._drain(stream) for stream in streams))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("search cache listener failed", error=str(exc))
            self.responses.invalidate()
            ready.set()
            await asyncio.sleep(1.0)

    async def _drain(self, stream: Any) -> None:
        async for _ in stream:
            self.responses.invalidate()


def _catalogue_statuses(
    sources: list[str], hits: list[CatalogueHit], latency_ms: float
) -> list[SourceStatus]:
    counts = dict.fromkeys(sources, 0)
    for hit in hits:
        source = hit.item.ref.source
        counts[source] = counts.get(source, 0) + 1
    return [
        SourceStatus(
            source=source, via="catalogue", status="ok", results=count, latency_ms=latency_ms
        )
        for source, count in counts.items()
    ]


def _live_status(outcome: SourceOutcome) -> SourceStatus:
    return SourceStatus(
        source=outcome.source,
        via="live",
        status=outcome.status,
        results=len(outcome.items),
        detail=outcome.detail,
        latency_ms=outcome.latency_ms,
        cached=outcome.cached,
    )
