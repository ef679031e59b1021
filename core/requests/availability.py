"""Requests kept true by what library syncs find.

:class:`Availability` watches the sync engine (it is a
:class:`~medianest.core.sync.engine.CatalogueWatcher`):

- **A batch is committed**: the external ids of its films and shows (IMDb, TMDB, TheTVDB,
  each with the item's kind) are matched against the open requests (pending, approved,
  processing, failed) in ONE query, through the request table's partial index on each id
  column. Every match becomes ``available`` with its location (the item that matched), with
  its ``request.available`` event, even if the request backend never said so.
- **A full sync deleted items**: every ``available`` request located in that source whose item
  is gone is looked for in every library again (one query). Found elsewhere, it points there
  from now on. Found nowhere, the title left every library: the request is closed as
  ``deleted`` with the reason :data:`GONE_REASON` (``request.deleted`` event), so the title can
  be requested again (a deleted request is not open).

Status changes go through the requests service (:meth:`RequestService.mark`), the same path as
every other change: one event per change, published live to the people who follow it.
"""

# Statements are assembled from this module's constant column names and placeholders; every
# value is bound (see medianest.core.requests.statements).
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from medianest.core.db import Database
from medianest.core.db.records import COLUMNS, Record
from medianest.core.requests.statements import Sql, fetch
from medianest.core.requests.views import DELETED, OPEN_STATUSES, RequestView
from medianest.sdk.models import RequestStatus

log = structlog.get_logger(__name__)

AVAILABLE = RequestStatus.AVAILABLE.value
REQUESTABLE_KINDS = ("movie", "show")
GONE_REASON = "no longer in any library"
"""The reason of a request closed because its title left every library (then
``"no longer in any library (it was in <source>)"``)."""

_SOURCE, _ITEM, _KIND, _IMDB, _TMDB, _TVDB = (
    COLUMNS.index(name) for name in ("source", "item_id", "kind", "imdb", "tmdb", "tvdb")
)
_SCHEMES = (("imdb_id", "imdb"), ("tmdb_id", "tmdb"), ("tvdb_id", "tvdb"))
"""(request column, catalogue column) of each external id."""

IdKey = tuple[str, str, Any]
"""``(kind, scheme, value)``: an external id as a request matches it (TMDB numbers films and
shows apart, so the kind is always part of it)."""


class StatusMarker(Protocol):
    """The requests service's way to change a request's status (with event and news)."""

    def mark(
        self,
        request_id: int,
        status: str,
        *,
        reason: str | None = None,
        location: tuple[str, str] | None = None,
    ) -> Awaitable[RequestView]: ...


@dataclass(frozen=True, slots=True)
class Matched:
    """An open request a sync found in a library, and where."""

    request_id: int
    source: str
    item_id: str


class Availability:
    """Marks requests available (or requestable again) from library syncs; see the module.

    :param database: the hub's database (its catalogue and request table).
    :param service: the requests service, whose ``mark`` applies each change.
    """

    def __init__(self, database: Database, service: StatusMarker) -> None:
        self._database = database
        self._service = service

    # -- found by a sync -------------------------------------------------------------------

    async def items_synced(self, source: str, records: Sequence[Record]) -> None:
        """Mark the open requests for ``records``' titles available there."""
        for found in await self.match(records):
            try:
                await self._service.mark(
                    found.request_id, AVAILABLE, location=(found.source, found.item_id)
                )
            except Exception:
                log.exception("request not marked available", request_id=found.request_id)
            else:
                log.info(
                    "request available: a sync found it",
                    request_id=found.request_id,
                    source=found.source,
                    item_id=found.item_id,
                )

    async def match(self, records: Sequence[Record]) -> list[Matched]:
        """The open requests ``records`` hold the title of (one query), each with the first
        record that matched."""
        where: dict[IdKey, tuple[str, str]] = {}
        for record in records:
            values = record.values
            kind = values[_KIND]
            if kind not in REQUESTABLE_KINDS:
                continue
            for scheme, index in (("imdb", _IMDB), ("tmdb", _TMDB), ("tvdb", _TVDB)):
                value = values[index]
                if value is not None:
                    where.setdefault((kind, scheme, value), (values[_SOURCE], values[_ITEM]))
        if not where:
            return []
        rows = await self._requests_with(where, statuses=OPEN_STATUSES)
        matched = []
        for request_id, kind, *ids in rows:
            location = _located(where, kind, ids)
            if location is not None:
                matched.append(Matched(request_id, *location))
        return matched

    # -- gone from a library ---------------------------------------------------------------

    async def items_deleted(self, source: str) -> None:
        """Requests available in ``source`` whose item was deleted: relocated to another
        library's copy, or closed so that the title can be requested again."""
        orphans = await self._orphans(source)
        if not orphans:
            return
        wanted = {key for _, kind, *ids in orphans for key in _keys(kind, ids)}
        copies = await self._library_copies(wanted)
        for request_id, kind, *ids in orphans:
            location = _located(copies, kind, ids)
            try:
                if location is not None:
                    await self._service.mark(request_id, AVAILABLE, location=location)
                    log.info("request available elsewhere", request_id=request_id, at=location)
                else:
                    await self._service.mark(
                        request_id, DELETED, reason=f"{GONE_REASON} (it was in {source})"
                    )
                    log.info(
                        "request requestable again: its title left every library",
                        request_id=request_id,
                        source=source,
                    )
            except Exception:
                log.exception("request not updated after deletions", request_id=request_id)

    async def _orphans(self, source: str) -> list[tuple[Any, ...]]:
        sql = Sql(self._database.dialect == "postgres")
        return await self._fetch(
            sql.done(
                "SELECT r.id, r.kind, r.imdb_id, r.tmdb_id, r.tvdb_id FROM core_request r "
                f"WHERE r.status = {sql(AVAILABLE)} "
                f"AND r.location_source = {sql(source)} "
                "AND NOT EXISTS (SELECT 1 FROM core_library_item m "
                "WHERE m.source = r.location_source AND m.item_id = r.location_item_id) "
                "ORDER BY r.id"
            )
        )

    async def _library_copies(self, wanted: Iterable[IdKey]) -> dict[IdKey, tuple[str, str]]:
        """Where each of ``wanted`` is in the catalogue (one query; the first copy by source)."""
        by_scheme: dict[str, set[Any]] = {}
        for _, scheme, value in wanted:
            by_scheme.setdefault(scheme, set()).add(value)
        if not by_scheme:
            return {}
        sql = Sql(self._database.dialect == "postgres")
        arms = [
            f"SELECT id FROM core_library_item WHERE {scheme} IS NOT NULL "
            f"AND {scheme} {sql.among(sorted(values))}"
            for scheme, values in by_scheme.items()
        ]
        rows = await self._fetch(
            sql.done(
                "SELECT source, item_id, kind, imdb, tmdb, tvdb FROM core_library_item "
                f"WHERE id IN ({' UNION '.join(arms)}) ORDER BY source, item_id"
            )
        )
        found: dict[IdKey, tuple[str, str]] = {}
        for item_source, item_id, kind, *ids in rows:
            for key in _keys(kind, ids):
                found.setdefault(key, (item_source, item_id))
        return found

    # -- queries ---------------------------------------------------------------------------

    async def _requests_with(
        self, keys: Iterable[IdKey], *, statuses: Sequence[str]
    ) -> list[tuple[Any, ...]]:
        """``(id, kind, imdb, tmdb, tvdb)`` of the requests in ``statuses`` carrying one of
        ``keys``' ids (kinds are checked by the caller): one arm per id column, each through
        its partial index."""
        by_column: dict[str, set[Any]] = {}
        for _, scheme, value in keys:
            by_column.setdefault(f"{scheme}_id", set()).add(value)
        sql = Sql(self._database.dialect == "postgres")
        arms = [
            f"SELECT id FROM core_request WHERE {column} IS NOT NULL "
            f"AND {column} {sql.among(sorted(values))}"
            for column, values in by_column.items()
        ]
        return await self._fetch(
            sql.done(
                "SELECT id, kind, imdb_id, tmdb_id, tvdb_id FROM core_request "
                f"WHERE id IN ({' UNION '.join(arms)}) "
                f"AND status {sql.among(list(statuses))} ORDER BY id"
            )
        )

    async def _fetch(self, statement: tuple[str, Any]) -> list[tuple[Any, ...]]:
        return await fetch(self._database, statement)


def _keys(kind: str, ids: Sequence[Any]) -> list[IdKey]:
    """The ``(kind, scheme, value)`` keys of ``(imdb, tmdb, tvdb)``."""
    return [
        (kind, scheme, value)
        for (_, scheme), value in zip(_SCHEMES, ids, strict=True)
        if value is not None
    ]


def _located(
    where: dict[IdKey, tuple[str, str]], kind: str, ids: Sequence[Any]
) -> tuple[str, str] | None:
    """Where the first of a request's ids is in ``where`` (``None`` when none is)."""
    for key in _keys(kind, ids):
        if key in where:
            return where[key]
    return None
