"""Searching the sources that must be asked live, in parallel, each under its own timeout.

Each live source (``SourceCapability.LIVE_SEARCH``) is asked through three guards:

- the **cache** (the hub's: Redis in scaled mode), per source and query, for the source's TTL;
  identical concurrent queries in a process share one upstream call (single flight);
- its **circuit breaker**: after ``search.breaker_failures`` failures in a row the source is
  skipped for ``search.breaker_reset_seconds``, then one trial call decides;
- its **timeout**: a source slower than its timeout is reported ``timeout``; its call goes on in
  the background only to fill the cache, bounded by the same timeout.

A source is ``skipped`` when its runtime flag ``<plugin key>.search`` is off or its circuit is
open. Plugin output is checked: anything but a list of this source's ``MediaItem`` is an
``error`` naming the plugin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from medianest.core.search.query import SearchRequest
from medianest.sdk.flags import Flag
from medianest.sdk.models import MediaItem

if TYPE_CHECKING:
    from medianest.core.hub import Hub

Status = Literal["ok", "timeout", "error", "skipped"]


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


class LiveSearch:
    """The fan-out to live sources of one hub."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    async def search(self, request: SearchRequest, source_ids: list[str]) -> list[SourceOutcome]:
        """Ask each of ``source_ids`` (live sources) concurrently; one outcome each, in order.

        Never raises for a source's failure and never takes longer than the largest timeout
        among them (plus scheduling). Items are filtered by ``request.wants``.
        """
        raise NotImplementedError


def live_search_flags(hub: Hub) -> list[Flag]:
    """A runtime flag ``<plugin key>.search`` (default on) for each plugin providing a live
    source, unless the plugin registers that flag itself: admins switch a live source's
    searches off without a restart."""
    return []
