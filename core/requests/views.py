"""What the requests service takes and gives: the ask, the query, and a request as shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from medianest.sdk.models import ExternalIds, RequestStatus

Kind = Literal["movie", "show"]
KINDS: tuple[Kind, ...] = ("movie", "show")

DELETED = "deleted"
"""The local status of a request deleted on the hub (kept for history; not open)."""
STATUSES: tuple[str, ...] = (*(status.value for status in RequestStatus), DELETED)
OPEN_STATUSES: tuple[str, ...] = (
    RequestStatus.PENDING.value,
    RequestStatus.APPROVED.value,
    RequestStatus.PROCESSING.value,
    RequestStatus.FAILED.value,
)
"""A work with a request in one of these is not asked for twice (migration 0007's index)."""

Action = Literal["approve", "decline", "retry", "delete"]
ACTIONS: tuple[Action, ...] = ("approve", "decline", "retry", "delete")


@dataclass(frozen=True, slots=True)
class RequestAsk:
    """What a person asks for: a film or a show, by TMDB id or by a hub media reference.

    :param media: ``(source, item_id)`` of an item the hub shows (its external ids are read).
    :param seasons: season numbers, or ``"all"`` (shows only); ``None``: every season.
    :param backend: the request backend's provider id; ``None``: the hub's default.
    """

    kind: Kind
    tmdb_id: int | None = None
    media: tuple[str, str] | None = None
    seasons: tuple[int, ...] | Literal["all"] | None = None
    backend: str | None = None


@dataclass(frozen=True, slots=True)
class RequestQuery:
    """A list of requests: ``everyone``'s or one ``user``'s (else the caller's own)."""

    everyone: bool = False
    user: int | None = None
    status: tuple[str, ...] = ()
    kind: Kind | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Person:
    """Someone as a request shows them."""

    id: int
    username: str


@dataclass(frozen=True, slots=True)
class RequestView:
    """One request as the API, the live channels and the events show it."""

    id: int
    backend: str
    remote_id: str
    kind: str
    title: str | None
    year: int | None
    ids: ExternalIds
    seasons: list[int] | Literal["all"] | None
    status: str
    reason: str | None
    requested_by: Person
    decided_by: Person | None
    interested: list[Person]
    created_at: datetime
    updated_at: datetime
    decided_at: datetime | None
    available_at: datetime | None
    location: tuple[str, str] | None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def people(self) -> list[int]:
        """Who hears about this request: the requester first, then the interested."""
        ids = [self.requested_by.id]
        ids += [person.id for person in self.interested if person.id not in ids]
        return ids

    def to_json(self) -> dict[str, Any]:
        """The request as ``GET /api/v1/requests/{id}`` answers it."""
        links: dict[str, str | None] = {"self": f"/api/v1/requests/{self.id}", "media": None}
        if self.location is not None:
            source, item_id = self.location
            links["media"] = f"/api/v1/media/{quote(source, safe=':')}/{quote(item_id, safe='')}"
        return {
            "id": self.id,
            "backend": self.backend,
            "remote_id": self.remote_id,
            "kind": self.kind,
            "title": self.title,
            "year": self.year,
            "ids": {"tmdb": self.ids.tmdb, "imdb": self.ids.imdb, "tvdb": self.ids.tvdb},
            "seasons": self.seasons,
            "status": self.status,
            "reason": self.reason,
            "requested_by": _person(self.requested_by),
            "decided_by": _person(self.decided_by) if self.decided_by else None,
            "interested": [_person(person) for person in self.interested],
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "decided_at": _iso(self.decided_at) if self.decided_at else None,
            "available_at": _iso(self.available_at) if self.available_at else None,
            "location": (
                {"source": self.location[0], "item_id": self.location[1]} if self.location else None
            ),
            "links": links,
        }

    def event_data(self) -> dict[str, Any]:
        """``data`` of the request's ``request.*`` events (see ``medianest.sdk.events``)."""
        data: dict[str, Any] = {
            "request_id": self.id,
            "backend": self.backend,
            "remote_id": self.remote_id,
            "kind": self.kind,
            "title": self.title,
            "ids": self.ids.model_dump(exclude_none=True),
            "status": self.status,
            "seasons": self.seasons,
            "interested": self.people(),
        }
        if self.reason:
            data["reason"] = self.reason
        if self.location:
            data["location"] = {"source": self.location[0], "item_id": self.location[1]}
        return data


def _iso(moment: datetime) -> str:
    """A time as the API writes it: UTC, ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _person(person: Person) -> dict[str, Any]:
    return {"id": person.id, "username": person.username}


@dataclass(frozen=True, slots=True)
class RequestSummary:
    """What search hits and media details say of a requested work (``lookup_by_ids``)."""

    id: int
    kind: str
    status: str
    requested_by: Person
    created_at: datetime
    location: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class RequestPage:
    """One page of a request list: newest first, the next page's cursor, the total."""

    items: list[RequestView]
    next_cursor: str | None
    total: int


@dataclass(frozen=True, slots=True)
class Quota:
    """A person's quota for one kind and how much of it is used."""

    kind: Kind
    limit: int
    """0: unlimited."""
    days: int
    used: int
    remaining: int | None
    reset_at: datetime | None
    overridden: bool


@dataclass(slots=True)
class Created:
    """The outcome of :meth:`RequestService.create`."""

    request: RequestView
    approved: bool = False
    """It was approved at once (the person holds ``auto_approve``)."""
    notes: list[str] = field(default_factory=list)
