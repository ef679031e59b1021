"""What search hits and media details say of a requested work: its ``request`` mark.

``{"id", "status", "requested_by": {"id", "username"}}``, or ``None`` when nobody asked for
the work (or only a deleted request has it). ``requested_by`` is shown only to the person who
asked and to those who manage requests (``null`` for everyone else). Every mark of a page
comes from ONE lookup on the hub's request table, never from a request backend:
:class:`IndexedLookup` answers ``lookup_by_ids`` as the requests service does (an open request
first, else the latest that is not deleted), through the partial index of each id column (an
``OR`` over the columns reads the whole table on SQLite, over 10 ms at 10,000 requests).
"""

# Statements are assembled from constant column names and placeholders; every value is bound.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from medianest.core.db import Database
from medianest.core.requests.statements import Sql, fetch
from medianest.core.requests.views import DELETED, OPEN_STATUSES, Person, RequestSummary
from medianest.sdk.access import Permission
from medianest.sdk.models import ExternalIds, MediaItem, Principal

REQUESTABLE_KINDS = frozenset({"movie", "show"})

Work = tuple[tuple[str, ExternalIds], ...]
"""The copies of one work a mark is looked up by: ``(kind, ids)`` of each."""


class RequestLookup(Protocol):
    """The requests service's batch lookup."""

    def lookup_by_ids(
        self, ids: Iterable[ExternalIds], *, kind: str | None = None
    ) -> Awaitable[dict[ExternalIds, RequestSummary]]: ...


class IndexedLookup:
    """``lookup_by_ids`` in ONE indexed query on the hub's request table (see the module)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def lookup_by_ids(
        self, ids: Iterable[ExternalIds], *, kind: str | None = None
    ) -> dict[ExternalIds, RequestSummary]:
        """The request for each of ``ids`` that has one: an open one first, else the latest
        that is not deleted; ``kind`` narrows to films or shows. Ids without one are left out."""
        wanted = [i for i in dict.fromkeys(ids) if i.tmdb or i.imdb or i.tvdb]
        if not wanted:
            return {}
        sql = Sql(self._database.dialect == "postgres")
        arms = [
            f"SELECT id FROM core_request WHERE {column} IS NOT NULL "
            f"AND {column} {sql.among(values)}"
            for column, values in (
                ("tmdb_id", sorted({i.tmdb for i in wanted if i.tmdb})),
                ("imdb_id", sorted({i.imdb for i in wanted if i.imdb})),
                ("tvdb_id", sorted({i.tvdb for i in wanted if i.tvdb})),
            )
            if values
        ]
        where = f"r.id IN ({' UNION '.join(arms)}) AND r.status <> {sql(DELETED)}"
        if kind is not None:
            where += f" AND r.kind = {sql(kind)}"
        rows = await fetch(
            self._database,
            sql.done(
                "SELECT r.id, r.kind, r.status, r.tmdb_id, r.imdb_id, r.tvdb_id, "
                "r.requested_by_id, u.username, r.created_at, r.location_source, "
                "r.location_item_id FROM core_request r "
                f"JOIN core_user u ON u.id = r.requested_by_id WHERE {where} ORDER BY r.id DESC"
            ),
        )
        found: dict[ExternalIds, RequestSummary] = {}
        for key in wanted:
            best: tuple[Any, ...] | None = None
            for row in rows:
                if not (
                    (key.tmdb and row[3] == key.tmdb)
                    or (key.imdb and row[4] == key.imdb)
                    or (key.tvdb and row[5] == key.tvdb)
                ):
                    continue
                if best is None or (row[2] in OPEN_STATUSES and best[2] not in OPEN_STATUSES):
                    best = row
            if best is not None:
                found[key] = _summary(best)
        return found


def _summary(row: tuple[Any, ...]) -> RequestSummary:
    created = row[8]
    return RequestSummary(
        id=row[0],
        kind=row[1],
        status=row[2],
        requested_by=Person(row[6], row[7]),
        created_at=datetime.fromisoformat(created) if isinstance(created, str) else created,
        location=(row[9], row[10]) if row[9] and row[10] else None,
    )


def work_of(items: Iterable[MediaItem]) -> Work:
    """The copies of a work that a request could be for (films and shows with an id)."""
    return tuple(
        (item.kind.value, item.ids)
        for item in items
        if item.kind.value in REQUESTABLE_KINDS
        and (item.ids.tmdb or item.ids.imdb or item.ids.tvdb)
    )


async def marks_for(
    lookup: RequestLookup, principal: Principal, works: Sequence[Work]
) -> list[dict[str, Any] | None]:
    """The mark of each of ``works``, as ``principal`` may see it (one lookup for all)."""
    wanted = [ids for work in works for _, ids in work]
    if not wanted:
        return [None] * len(works)
    found = await lookup.lookup_by_ids(wanted)
    marks: list[dict[str, Any] | None] = []
    for work in works:
        summary = next(
            (found[ids] for kind, ids in work if ids in found and found[ids].kind == kind),
            None,
        )
        marks.append(mark_of(summary, principal) if summary is not None else None)
    return marks


def mark_of(summary: RequestSummary, principal: Principal) -> dict[str, Any]:
    """The mark of ``summary`` as ``principal`` may see it."""
    mark: dict[str, Any] = {"id": summary.id, "status": summary.status, "requested_by": None}
    if summary.requested_by.id == principal.user_id or principal.has(Permission.MANAGE_REQUESTS):
        mark["requested_by"] = {
            "id": summary.requested_by.id,
            "username": summary.requested_by.username,
        }
    return mark
