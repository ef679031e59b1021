"""Searching the sources that must be asked live, in parallel, each under its own timeout.

Each live source (``SourceCapability.LIVE_SEARCH``) is asked through three guards:

- the **cache**, per source and query, for the source's TTL (``search.ttl_for``; 0: never
  kept). In scaled mode it is the hub's (Redis), shared by every replica. In embedded mode
  answers are kept in a bounded in-process cache of their own (``search.cache_max_bytes``,
  oldest out first), apart from the hub's cache: a flood of distinct searches then only
  pushes out other search answers, never the session revocations and sign-in lockouts the
  hub's cache holds. Identical concurrent queries in a process share one upstream call
  (single flight);
- its **circuit breaker** (:mod:`medianest.core.search.breaker`, one per source and per
  process): after ``search.breaker_failures`` failures in a row the source is skipped for
  ``search.breaker_reset_seconds``, then one trial call decides;
- its **timeout** (``search.timeout_for``): a source slower than its timeout is reported
  ``timeout``. The shared call is bounded by the same deadline, so a hanging source cannot
  pile up tasks; callers that joined it later wait no longer than it.

A source is ``skipped`` when its runtime flag ``<plugin key>.search`` is off or its circuit is
open. Plugin output is checked: anything but a list of this source's ``MediaItem`` is an
``error`` naming the plugin. Only answers that passed are cached; failures and timeouts count
against the breaker, skips and cache hits do not.

Every outcome is counted in ``medianest_live_search_total`` (``ok``, ``cached``, ``timeout``,
``error``, ``skipped``) and every real upstream call is timed in
``medianest_upstream_call_duration_seconds`` (operation ``search``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, cast

import structlog
from pydantic import ValidationError

from medianest.config.settings import SearchSettings
from medianest.core.metrics import Metrics
from medianest.core.plugins import returned_message
from medianest.core.registry import ProviderRegistry
from medianest.core.search.breaker import CircuitBreaker, CircuitState, CircuitView, Clock, Permit
from medianest.core.search.query import SearchRequest
from medianest.core.state.memory import MemoryCache
from medianest.core.state.singleflight import SingleFlight
from medianest.sdk.errors import MediaNestError, NotFoundError
from medianest.sdk.events import HEALTH_CHANNEL
from medianest.sdk.flags import Flag
from medianest.sdk.models import MediaItem, SearchQuery
from medianest.sdk.providers import LiveSearchSource, MediaSource, SourceCapability, supports
from medianest.sdk.services import Cache, FlagReader, PubSub

log = structlog.get_logger(__name__)

Status = Literal["ok", "timeout", "error", "skipped"]

CACHE_PREFIX = "search:live:"
"""Cache keys look like ``search:live:<source id>:<digest of the query>``."""

SEARCH_FEATURE = "search"
"""The feature part of each live source's runtime flag: ``<plugin key>.search``."""

_CACHE_FORMAT = 1
"""Part of the key digest: bumped when the cached value's shape changes."""

_GRACE_SECONDS = 0.05
"""How much longer than its timeout a caller waits for the shared call to report its own
timeout; only a plugin that ignores cancellation makes a caller give up on its own."""


@dataclass(frozen=True, slots=True)
class SourceOutcome:
    """How one source answered one search."""

    source: str
    status: Status
    items: list[MediaItem] = field(default_factory=list)
    detail: str | None = None
    """Why it failed or was skipped, safe to show (no secrets, no tracebacks)."""
    latency_ms: float | None = None
    cached: bool = False


def plugin_of(source_id: str) -> str:
    """The key of the plugin a source id belongs to (``plex:home`` → ``plex``)."""
    return source_id.split(":", 1)[0]


def flag_key(source_id: str) -> str:
    """The runtime flag that switches a live source's searches: ``<plugin key>.search``."""
    return f"{plugin_of(source_id)}.{SEARCH_FEATURE}"


class _Skipped(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class _Failed(Exception):
    def __init__(self, status: Literal["timeout", "error"], detail: str) -> None:
        super().__init__(detail)
        self.status: Literal["timeout", "error"] = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class _Answer:
    items: list[MediaItem]
    cached: bool


@dataclass(frozen=True, slots=True)
class _Ask:
    """One key's shared call: what to ask whom, and until when."""

    source: LiveSearchSource
    key: str
    query: SearchQuery
    ttl: float
    seconds: float
    """The source's timeout."""
    deadline: float
    """The event loop time by which the shared call ends, answered or not."""
    breaker: CircuitBreaker


class LiveSearch:
    """The fan-out to live sources of one hub.

    :param clock: monotonic seconds for the circuit breakers (tests move it themselves).
    """

    def __init__(
        self,
        settings: SearchSettings,
        *,
        registry: ProviderRegistry,
        metrics: Metrics,
        mode: Literal["embedded", "scaled"],
        clock: Clock = time.monotonic,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._flight = SingleFlight()
        self._announcing: set[asyncio.Task[None]] = set()
        self._shared_cache: Cache | None = None
        self._flags: FlagReader | None = None
        self._pubsub: PubSub | None = None
        # A source declaring live search has its `search` method (checked at boot).
        self._sources: dict[str, LiveSearchSource] = {
            source.id: cast(LiveSearchSource, source)
            for source in registry.all("media_sources")
            if supports(source, SourceCapability.LIVE_SEARCH)
        }
        search = settings
        self._breakers = {
            source_id: CircuitBreaker(
                source_id,
                failures=search.breaker_failures,
                reset_seconds=search.breaker_reset_seconds,
                clock=clock,
                on_change=self._gauge(source_id),
            )
            for source_id in self._sources
        }
        for source_id in self._sources:
            metrics.circuit_open.labels(source_id).set(0)
        self._own_cache: MemoryCache | None = (
            MemoryCache(max_bytes=search.cache_max_bytes) if mode == "embedded" else None
        )

    def start(self, *, cache: Cache, flags: FlagReader, pubsub: PubSub) -> None:
        """Keep answers in ``cache`` (scaled mode), read the live flags from ``flags`` and
        announce circuit changes on ``pubsub``."""
        self._shared_cache = cache
        self._flags = flags
        self._pubsub = pubsub

    # what there is -----------------------------------------------------------------------------

    def sources(self) -> list[MediaSource]:
        """The hub's live-search sources, in registry order."""
        return list(self._sources.values())

    def circuit(self, source_id: str) -> CircuitView | None:
        """The circuit breaker of a live source as it stands; ``None``: not a live source."""
        breaker = self._breakers.get(source_id)
        return None if breaker is None else breaker.view()

    def circuits(self) -> list[CircuitView]:
        """Every live source's circuit breaker, in registry order."""
        return [breaker.view() for breaker in self._breakers.values()]

    @property
    def cache(self) -> Cache:
        """Where answers are kept: the hub's cache when scaled, this search's own when
        embedded (available once the hub is started)."""
        if self._own_cache is not None:
            return self._own_cache
        if self._shared_cache is None:
            raise RuntimeError("live search has no cache yet (the hub is not started)")
        return self._shared_cache

    def cache_key(self, source_id: str, request: SearchRequest) -> str:
        """The cache (and single-flight) key of ``request`` asked of ``source_id``: the
        source and a digest of the query's shape (folded text, kinds, year), not the page."""
        shape = {
            "v": _CACHE_FORMAT,
            "t": request.folded,
            "k": sorted(request.kinds),
            "y": request.year,
            "l": self.settings.live_limit,
        }
        raw = json.dumps(shape, separators=(",", ":"), sort_keys=True).encode()
        return f"{CACHE_PREFIX}{source_id}:{hashlib.blake2b(raw, digest_size=12).hexdigest()}"

    # searching ---------------------------------------------------------------------------------

    async def search(self, request: SearchRequest, source_ids: list[str]) -> list[SourceOutcome]:
        """Ask each of ``source_ids`` (live sources) concurrently; one outcome each, in order.

        Never raises for a source's failure and never takes longer than the largest timeout
        among them (plus scheduling). Items are filtered by ``request.wants``.
        """
        return list(await asyncio.gather(*(self._one(request, sid) for sid in source_ids)))

    async def aclose(self) -> None:
        """Cancel the upstream calls still running (the hub is stopping)."""
        await self._flight.aclose()
        if self._own_cache is not None:
            await self._own_cache.aclose()

    async def _one(self, request: SearchRequest, source_id: str) -> SourceOutcome:
        started = time.perf_counter()
        try:
            status, answer, detail = await self._ask(request, source_id)
        except Exception as exc:  # a bug of ours: still one outcome, never a failed search
            log.exception("live search failed", source=source_id)
            detail = f"searching {source_id} failed: {type(exc).__name__}"
            status, answer = "error", None
        latency = None if status == "skipped" else round((time.perf_counter() - started) * 1000, 2)
        cached = answer is not None and answer.cached
        items = [] if answer is None else [item for item in answer.items if request.wants(item)]
        self.metrics.live_search.labels(source_id, "cached" if cached else status).inc()
        return SourceOutcome(
            source=source_id,
            status=status,
            items=items,
            detail=detail,
            latency_ms=latency,
            cached=cached,
        )

    async def _ask(
        self, request: SearchRequest, source_id: str
    ) -> tuple[Status, _Answer | None, str | None]:
        source = self._sources.get(source_id)
        if source is None:
            return "error", None, f"{source_id} is not a live-search source of this hub"
        if not self.switched_on(source_id):
            return "skipped", None, f"switched off (runtime flag {flag_key(source_id)})"
        breaker = self._breakers[source_id]
        if breaker.state is CircuitState.OPEN:
            return "skipped", None, breaker.refusal()
        search = self.settings
        timeout = search.timeout_for(source_id)
        ttl = search.ttl_for(source_id)
        query = SearchQuery(
            text=request.text, kinds=request.kinds, year=request.year, limit=search.live_limit
        )
        ask = _Ask(
            source=source,
            key=self.cache_key(source_id, request),
            query=query,
            ttl=ttl,
            seconds=timeout,
            deadline=asyncio.get_running_loop().time() + timeout,
            breaker=breaker,
        )
        try:
            answer = await asyncio.wait_for(
                self._flight.do(ask.key, lambda: self._fill(ask)), timeout + _GRACE_SECONDS
            )
        except TimeoutError:
            return "timeout", None, _no_answer(timeout)
        except _Skipped as skipped:
            return "skipped", None, skipped.detail
        except _Failed as failed:
            return failed.status, None, failed.detail
        return "ok", answer, None

    async def _fill(self, ask: _Ask) -> _Answer:
        """The shared computation of one key: the cache, else one call to the source."""
        if ask.ttl > 0:
            try:
                async with asyncio.timeout_at(ask.deadline):
                    cached = await self._read(ask.source.id, ask.key)
            except TimeoutError:
                raise _Failed("timeout", _no_answer(ask.seconds)) from None
            if cached is not None:
                return _Answer(cached, cached=True)
        permit = ask.breaker.acquire()
        if permit is None:
            raise _Skipped(ask.breaker.refusal())
        items = await self._call(ask, permit)
        if ask.ttl > 0:
            await self._store(ask.source.id, ask.key, items, ask.ttl)
        return _Answer(items, cached=False)

    async def _call(self, ask: _Ask, permit: Permit) -> list[MediaItem]:
        """One search of the source itself, timed, checked and reported to its breaker."""
        source = ask.source
        plugin = plugin_of(source.id)
        outcome: str | None = None
        started = time.perf_counter()
        try:
            try:
                async with asyncio.timeout_at(ask.deadline):
                    raw = await source.search(ask.query)
            except TimeoutError:
                outcome = "timeout"
                permit.failed(f"timeout after {ask.seconds:g} s")
                raise _Failed("timeout", _no_answer(ask.seconds)) from None
            except MediaNestError as exc:
                outcome = "error"
                permit.failed(exc.message)
                log.warning(
                    "live source search failed",
                    source=source.id,
                    plugin=plugin,
                    code=exc.code,
                    error=exc.message,
                )
                raise _Failed("error", exc.message) from None
            except Exception as exc:
                outcome = "error"
                detail = f"plugin {plugin} failed: {type(exc).__name__}"
                permit.failed(detail)
                log.error(
                    "live source search crashed", source=source.id, plugin=plugin, exc_info=exc
                )
                raise _Failed("error", detail) from None
            items, problem = _checked(raw, source.id, plugin, ask.query.limit)
            if problem is not None:
                outcome = "error"
                permit.failed(problem)
                log.warning("live source broke the protocol", source=source.id, problem=problem)
                raise _Failed("error", problem)
            outcome = "ok"
            permit.succeeded()
            return items
        finally:
            permit.released()  # cancelled: neither success nor failure (no-op once settled)
            if outcome is not None:
                self.metrics.upstream_calls.labels(source.id, "search", outcome).observe(
                    time.perf_counter() - started
                )

    async def _read(self, source_id: str, key: str) -> list[MediaItem] | None:
        """The cached answer, or ``None`` when there is none or it cannot be used."""
        try:
            value = await self.cache.get(key)
        except Exception as exc:
            log.warning("live search cache unreadable", source=source_id, error=str(exc))
            return None
        if value is None:
            return None
        try:
            if not isinstance(value, list):
                raise TypeError(f"a {type(value).__name__}, not a list")
            return [MediaItem.model_validate(entry) for entry in value]
        except (TypeError, ValidationError) as exc:
            log.warning("live search cache entry ignored", source=source_id, error=str(exc))
            return None

    async def _store(self, source_id: str, key: str, items: list[MediaItem], ttl: float) -> None:
        try:
            await self.cache.set(key, [item.model_dump(mode="json") for item in items], ttl)
        except Exception as exc:  # the answer is still good, only not kept
            log.warning("live search answer not cached", source=source_id, error=str(exc))

    def switched_on(self, source_id: str) -> bool:
        """Whether the runtime flag of ``source_id``'s plugin lets it be searched."""
        if self._flags is None:
            return True
        try:
            return self._flags.is_enabled(flag_key(source_id))
        except NotFoundError:
            return True

    def _gauge(self, source_id: str) -> Callable[[bool], None]:
        gauge = self.metrics.circuit_open.labels(source_id)

        def changed(opened: bool) -> None:
            gauge.set(1 if opened else 0)
            if opened:
                log.warning("live source circuit opened", source=source_id)
            else:
                log.info("live source circuit closed", source=source_id)
            self._announce(source_id)

        return changed

    def _announce(self, source_id: str) -> None:
        """Publish the circuit of ``source_id`` on :data:`HEALTH_CHANNEL`, off the search."""
        breaker = self._breakers.get(source_id)
        if breaker is None:
            return
        view = breaker.view()
        message = {"source": source_id, "circuit": view.state.value, "detail": view.describe()}

        pubsub = self._pubsub
        if pubsub is None:  # not started: nobody listens yet
            return

        async def publish() -> None:
            try:
                await pubsub.publish(HEALTH_CHANNEL, message)
            except Exception as exc:  # health news is best effort; the gauge is the record
                log.warning("circuit change not published", source=source_id, error=str(exc))

        try:
            task = asyncio.get_running_loop().create_task(publish())
        except RuntimeError:  # no loop: nobody to tell
            return
        self._announcing.add(task)
        task.add_done_callback(self._announcing.discard)


def _no_answer(timeout: float) -> str:
    return f"no answer within {timeout:g} s"


def _checked(
    raw: object, source_id: str, plugin: str, limit: int
) -> tuple[list[MediaItem], str | None]:
    """The items of a plugin's answer, or what is wrong with it (naming the plugin)."""
    if not isinstance(raw, list):
        return [], returned_message(plugin, f"search of {source_id}", raw, "a list of MediaItem")
    for position, item in enumerate(raw):
        if not isinstance(item, MediaItem):
            return [], (
                f"plugin {plugin} returned {type(item).__name__} at position {position} from "
                f"search of {source_id}; expected MediaItem"
            )
        if item.ref.source != source_id:
            return [], (
                f"plugin {plugin} returned an item of source {item.ref.source!r} from search of "
                f"{source_id}; items must carry the id of the source that found them"
            )
    return raw[:limit], None


def live_search_flags(registry: ProviderRegistry, flags: list[Flag]) -> list[Flag]:
    """A runtime flag ``<plugin key>.search`` (default on) for each plugin providing a live
    source, unless the plugin registers that flag itself: admins switch a live source's
    searches off without a restart. ``flags``: those registered already."""
    declared = {flag.key for flag in flags}
    names: dict[str, list[str]] = {}
    for source in registry.all("media_sources"):
        if SourceCapability.LIVE_SEARCH in source.capabilities:
            names.setdefault(plugin_of(source.id), []).append(str(source.name))
    return [
        Flag(key=key, description=f"Search {', '.join(plugin_names)} live", default=True)
        for plugin, plugin_names in names.items()
        if (key := f"{plugin}.{SEARCH_FEATURE}") not in declared
    ]
