"""Searching the catalogue (``core_library_item``): the synced sources, answered locally.

PostgreSQL matches the generated ``search`` tsvector (prefix ``tsquery`` built from the
request's words, passed as a parameter); SQLite matches the FTS5 index (each word a quoted
prefix string). Both order by :func:`~medianest.core.search.query.rank_key`'s order in SQL and
read only the rows asked for. Overrides are joined and laid over each item.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from medianest.core.db import Database
from medianest.core.search.query import MatchTier, SearchRequest
from medianest.sdk.models import MediaItem

ExternalKey = tuple[str, str | int]
"""An external id as ``(scheme, value)``: ``("imdb", "tt0133093")``, ``("tmdb", 603)``."""


@dataclass(frozen=True, slots=True)
class CatalogueHit:
    """One catalogue item matching a search, with how well its title matched."""

    item: MediaItem
    tier: MatchTier


class Catalogue:
    """Read side of the catalogue for search, on either database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def search(
        self, request: SearchRequest, sources: Collection[str], limit: int
    ) -> list[CatalogueHit]:
        """The first ``limit`` matches of ``request`` among ``sources``' items, best first.

        Filters by ``request.kinds`` and ``request.year``; ``request.offset`` is ignored
        (the caller merges and pages). A request without words, or empty ``sources``,
        finds nothing without asking the database.
        """
        raise NotImplementedError

    async def by_external_ids(
        self, keys: Iterable[ExternalKey], *, sources: Collection[str] | None = None
    ) -> list[MediaItem]:
        """Every catalogue item carrying one of ``keys`` (in ``sources``, if given)."""
        raise NotImplementedError
