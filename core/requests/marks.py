"""What search hits and media details say of a requested work: its ``request`` mark.

``{"id", "status", "requested_by": {"id", "username"}}``, or ``None`` when nobody asked for
the work (or only a deleted request has it). ``requested_by`` is shown only to the person who
asked and to those who manage requests (``null`` for everyone else). Every mark of a page
comes from ONE lookup on the hub's request table (:meth:`RequestService.lookup_by_ids`), never
from a request backend.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, Protocol

from medianest.core.requests.views import RequestSummary
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
