"""The request-backend contract: what core relies on from every ``RequestBackend``.

Subclass :class:`RequestBackendContract` in your plugin's tests and provide a
``request_backend`` fixture returning a ready backend with no requests yet (talking to your
simulator)::

    class TestMyBackend(RequestBackendContract):
        @pytest.fixture
        async def request_backend(self, my_simulator):
            return MyBackend(...)

The contract acts as three people (fixtures you may override when your service needs them
to exist): ``requester`` and ``other_requester`` hold ``request``; ``request_manager`` is an
admin. ``requestable`` lists two things your service accepts requests for.
"""

from __future__ import annotations

import re

import pytest

from medianest.sdk.access import Permission
from medianest.sdk.errors import ConflictError, InvalidInputError, NotFoundError
from medianest.sdk.models import (
    PROVIDER_ID_PATTERN,
    ExternalIds,
    MediaKind,
    MediaRequest,
    MediaRequestCreate,
    Page,
    Principal,
    RequestStatus,
)
from medianest.sdk.providers import RequestBackend

MAX_PAGES = 1000


async def walk_requests(
    backend: RequestBackend, principal: Principal, *, everyone: bool = False, limit: int = 1
) -> list[MediaRequest]:
    """Every request the principal may list, page by page."""
    found: list[MediaRequest] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await backend.list_requests(principal, cursor, limit, everyone=everyone)
        assert isinstance(page, Page)
        assert len(page.items) <= limit, "a page holds at most `limit` requests"
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return found
    raise AssertionError(f"the requests did not end after {MAX_PAGES} pages")


class RequestBackendContract:
    """Behaviour every request backend shows. Needs a ``request_backend`` fixture."""

    pytestmark = pytest.mark.asyncio

    @pytest.fixture
    def requester(self) -> Principal:
        """A person allowed to request, with a linked Plex identity and an email."""
        return Principal(
            user_id=101,
            username="contract-ann",
            permissions=frozenset({str(Permission.REQUEST)}),
            email="ann@example.org",
            identities={"plex": "9001"},
        )

    @pytest.fixture
    def other_requester(self) -> Principal:
        """Another person allowed to request."""
        return Principal(
            user_id=102,
            username="contract-bob",
            permissions=frozenset({str(Permission.REQUEST)}),
            email="bob@example.org",
            identities={"plex": "9002"},
        )

    @pytest.fixture
    def request_manager(self) -> Principal:
        """An admin (holds ``manage_requests``)."""
        return Principal(user_id=100, username="contract-admin", role="admin")

    @pytest.fixture
    def requestable(self) -> list[MediaRequestCreate]:
        """Two different things the backend accepts requests for."""
        return [
            MediaRequestCreate(kind=MediaKind.MOVIE, ids=ExternalIds(tmdb=603), title="The Matrix"),
            MediaRequestCreate(kind=MediaKind.MOVIE, ids=ExternalIds(tmdb=550), title="Fight Club"),
        ]

    async def test_identity(self, request_backend: RequestBackend) -> None:
        assert isinstance(request_backend, RequestBackend)
        assert re.match(PROVIDER_ID_PATTERN, request_backend.id)
        assert request_backend.name

    async def test_created_request_round_trips(
        self,
        request_backend: RequestBackend,
        requester: Principal,
        requestable: list[MediaRequestCreate],
    ) -> None:
        created = await request_backend.create_request(requester, requestable[0])
        assert isinstance(created, MediaRequest)
        assert created.backend == request_backend.id
        assert created.status in set(RequestStatus)
        fetched = await request_backend.get_request(requester, created.request_id)
        assert fetched.request_id == created.request_id
        assert fetched.ids.tmdb == requestable[0].ids.tmdb

    async def test_a_duplicate_request_conflicts(
        self,
        request_backend: RequestBackend,
        requester: Principal,
        requestable: list[MediaRequestCreate],
    ) -> None:
        await request_backend.create_request(requester, requestable[0])
        with pytest.raises(ConflictError):
            await request_backend.create_request(requester, requestable[0])

    async def test_unknown_request_is_not_found(
        self, request_backend: RequestBackend, requester: Principal
    ) -> None:
        with pytest.raises(NotFoundError):
            await request_backend.get_request(requester, "999999999")

    async def test_people_list_their_own_and_managers_everyone(
        self,
        request_backend: RequestBackend,
        requester: Principal,
        other_requester: Principal,
        request_manager: Principal,
        requestable: list[MediaRequestCreate],
    ) -> None:
        mine = await request_backend.create_request(requester, requestable[0])
        theirs = await request_backend.create_request(other_requester, requestable[1])
        own = {r.request_id for r in await walk_requests(request_backend, requester)}
        assert mine.request_id in own and theirs.request_id not in own
        everyone = await walk_requests(request_backend, request_manager, everyone=True)
        ids = [r.request_id for r in everyone]
        assert {mine.request_id, theirs.request_id} <= set(ids)
        assert len(ids) == len(set(ids)), "a request appeared on two pages"
        assert ids.index(theirs.request_id) < ids.index(mine.request_id), "newest first"

    async def test_foreign_cursor_is_refused(
        self, request_backend: RequestBackend, requester: Principal
    ) -> None:
        with pytest.raises(InvalidInputError):
            await request_backend.list_requests(requester, "not-a-cursor-we-made", 5)

    async def test_status_of_many_ids_in_one_call(
        self,
        request_backend: RequestBackend,
        requester: Principal,
        requestable: list[MediaRequestCreate],
    ) -> None:
        assert await request_backend.request_status(requester, []) == {}
        created = await request_backend.create_request(requester, requestable[0])
        asked = [requestable[0].ids, requestable[1].ids]
        statuses = await request_backend.request_status(requester, asked)
        assert set(statuses) == {requestable[0].ids}, "keys are the given ids that have one"
        assert statuses[requestable[0].ids].request_id == created.request_id

    async def test_actions_change_the_request(
        self,
        request_backend: RequestBackend,
        requester: Principal,
        request_manager: Principal,
        requestable: list[MediaRequestCreate],
    ) -> None:
        created = await request_backend.create_request(requester, requestable[0])
        approved = await request_backend.act(request_manager, created.request_id, "approve")
        assert approved is not None and approved.status is not RequestStatus.PENDING
        assert await request_backend.act(request_manager, created.request_id, "delete") is None
        with pytest.raises(NotFoundError):
            await request_backend.get_request(request_manager, created.request_id)
