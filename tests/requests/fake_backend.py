"""A request backend kept in memory, for core's request tests: it records who each call acted
as, and can be made slow, failing, short of quota or without an account for someone."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from medianest.sdk import (
    AccountNotLinkedError,
    ConflictError,
    DomainEvent,
    ExternalIds,
    MediaRequest,
    MediaRequestCreate,
    NotFoundError,
    Page,
    PermissionDeniedError,
    Principal,
    RequestAction,
    RequestStatus,
    hookimpl,
    utcnow,
)

BACKEND_ID = "fake:requests"
TITLES: dict[int, tuple[str, int]] = {
    **{550 + n: (f"Film {n}", 1990 + n) for n in range(40)},
    **{1400 + n: (f"Show {n}", 2000 + n) for n in range(20)},
}
"""TMDB ids the backend knows, with their titles and years; any other is unknown to it."""

_AFTER = {
    "approve": RequestStatus.APPROVED,
    "decline": RequestStatus.DECLINED,
    "retry": RequestStatus.PENDING,
}


@dataclass
class Call:
    """One call the backend received: what, as whom, about what."""

    name: str
    principal: Principal
    subject: str


@dataclass
class FakeRequests:
    """The backend. ``failures[call]`` is raised by the next ``call`` (``create``, ``act``,
    ``status``, ``delete``); ``delay`` slows every call; ``create_delay`` slows ``create``
    *after* it filed the request (a timeout the backend outlives)."""

    id: str = BACKEND_ID
    name: str = "Requests in memory"
    requests: dict[str, MediaRequest] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, BaseException] = field(default_factory=dict)
    delay: float = 0.0
    create_delay: float = 0.0
    unlinked: set[str] = field(default_factory=set)
    """Usernames with no account on the backend's service."""
    approved_status: RequestStatus = RequestStatus.APPROVED
    """What approving turns a request into (Overseerr moves on to processing at once)."""
    quota_left: int | None = None
    """Requests the backend still accepts (``None``: no quota of its own)."""
    after_create: Callable[[], Awaitable[None]] | None = None
    """Run once the request is filed, before answering (to break something in between)."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(101))

    async def _enter(self, name: str, principal: Principal, subject: str) -> None:
        self.calls.append(Call(name, principal, subject))
        if self.delay:
            await asyncio.sleep(self.delay)
        failure = self.failures.pop(name, None)
        if failure is not None:
            raise failure

    def calls_of(self, name: str) -> list[Call]:
        return [call for call in self.calls if call.name == name]

    async def create_request(
        self, principal: Principal, request: MediaRequestCreate
    ) -> MediaRequest:
        await self._enter("create", principal, str(request.ids.tmdb or request.ids.imdb))
        if principal.username in self.unlinked:
            raise AccountNotLinkedError(
                f"{principal.username} has no account on Requests in memory; ask an admin",
                plugin="fake",
            )
        tmdb = request.ids.tmdb
        if tmdb is not None and tmdb not in TITLES:
            raise NotFoundError(f"TMDB has no {request.kind.value} {tmdb}", plugin="fake")
        for existing in self.requests.values():
            if existing.ids == request.ids and existing.kind == request.kind:
                raise ConflictError("this title was requested already", plugin="fake")
        if self.quota_left is not None:
            if self.quota_left <= 0:
                raise PermissionDeniedError("Quota exceeded", plugin="fake")
            self.quota_left -= 1
        title, year = TITLES.get(tmdb or 0, (request.title or "Someone's pick", 2001))
        filed = MediaRequest(
            backend=self.id,
            request_id=str(next(self._ids)),
            kind=request.kind,
            ids=request.ids,
            title=title,
            year=year,
            seasons=request.seasons,
            status=RequestStatus.PENDING,
            requested_by=principal.identity("plex") or principal.username,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        self.requests[filed.request_id] = filed
        if self.after_create is not None:
            await self.after_create()
        if self.create_delay:
            await asyncio.sleep(self.create_delay)
        return filed

    async def get_request(self, principal: Principal, request_id: str) -> MediaRequest:
        await self._enter("get", principal, request_id)
        try:
            return self.requests[request_id]
        except KeyError:
            raise NotFoundError(f"no request {request_id}", plugin="fake") from None

    async def list_requests(
        self, principal: Principal, cursor: str | None, limit: int, *, everyone: bool = False
    ) -> Page[MediaRequest]:
        await self._enter("list", principal, "")
        return Page(items=list(self.requests.values())[:limit], total=len(self.requests))

    async def request_status(
        self, principal: Principal, ids: Sequence[ExternalIds]
    ) -> dict[ExternalIds, MediaRequest]:
        await self._enter("status", principal, ",".join(str(i.tmdb) for i in ids))
        found = {}
        for key in ids:
            for request in self.requests.values():
                if request.ids.tmdb == key.tmdb:
                    found[key] = request
        return found

    async def act(
        self, principal: Principal, request_id: str, action: RequestAction
    ) -> MediaRequest | None:
        await self._enter("delete" if action == "delete" else "act", principal, request_id)
        if request_id not in self.requests:
            raise NotFoundError(f"no request {request_id}", plugin="fake")
        if action == "delete":
            del self.requests[request_id]
            return None
        changed = self.requests[request_id].model_copy(
            update={
                "status": self.approved_status if action == "approve" else _AFTER[action],
                "updated_at": utcnow(),
            }
        )
        self.requests[request_id] = changed
        return changed


class EventLog:
    """An analytics sink keeping every event it is handed."""

    id = "fake:events"
    name = "Events in memory"

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []

    async def record(self, events: list[DomainEvent]) -> None:
        self.events.extend(events)

    def of(self, event_type: str) -> list[DomainEvent]:
        return [event for event in self.events if event.type == event_type]

    async def wait_for(
        self, event_type: str, count: int = 1, within: float = 5.0
    ) -> list[DomainEvent]:
        """The events of ``event_type`` once there are ``count`` of them (``within`` seconds)."""
        for _ in range(int(within / 0.01)):
            if len(self.of(event_type)) >= count:
                break
            await asyncio.sleep(0.01)
        found = self.of(event_type)
        assert len(found) >= count, f"{len(found)} {event_type} event(s), expected {count}"
        return found


class FakeRequestsPlugin:
    """Registers one :class:`FakeRequests` and an :class:`EventLog`."""

    def __init__(self, backend: FakeRequests, events: EventLog | None = None) -> None:
        self.backend = backend
        self.events = events or EventLog()

    @hookimpl
    def register_request_backends(self) -> list[FakeRequests]:
        return [self.backend]

    @hookimpl
    def register_analytics_sinks(self) -> list[EventLog]:
        return [self.events]
