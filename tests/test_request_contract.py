"""The SDK's request-backend contract, run against a small backend kept in memory (and the
hello fixture's), as a third-party backend would run it against itself."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from medianest_hello.providers import HelloRequests

from medianest.sdk import (
    ConflictError,
    ExternalIds,
    MediaRequest,
    MediaRequestCreate,
    NotFoundError,
    Page,
    Permission,
    PermissionDeniedError,
    Principal,
    RequestAction,
    RequestBackend,
    RequestStatus,
    decode_cursor,
    encode_cursor,
    utcnow,
)
from medianest.sdk.testing import RequestBackendContract

STATUS_AFTER = {
    "approve": RequestStatus.APPROVED,
    "decline": RequestStatus.DECLINED,
    "retry": RequestStatus.PENDING,
}


class MemoryRequests:
    """Requests in a list, filed as the person's Plex account when they have one."""

    id = "memory:requests"
    name = "Requests in memory"

    def __init__(self) -> None:
        self.requests: list[MediaRequest] = []

    def _who(self, principal: Principal) -> str:
        return principal.identity("plex") or principal.username

    def _find(self, principal: Principal, request_id: str) -> int:
        for index, request in enumerate(self.requests):
            if request.request_id == request_id and (
                principal.has(Permission.MANAGE_REQUESTS)
                or request.requested_by == self._who(principal)
            ):
                return index
        raise NotFoundError(f"no request {request_id!r}", plugin="memory")

    async def create_request(
        self, principal: Principal, request: MediaRequestCreate
    ) -> MediaRequest:
        if not principal.has(Permission.REQUEST):
            raise PermissionDeniedError("may not request", permission="request")
        if any(r.ids == request.ids for r in self.requests):
            raise ConflictError("requested already", plugin="memory")
        created = MediaRequest(
            backend=self.id,
            request_id=str(len(self.requests) + 1),
            kind=request.kind,
            ids=request.ids,
            title=request.title,
            status=RequestStatus.PENDING,
            requested_by=self._who(principal),
            created_at=utcnow(),
        )
        self.requests.append(created)
        return created

    async def get_request(self, principal: Principal, request_id: str) -> MediaRequest:
        return self.requests[self._find(principal, request_id)]

    async def list_requests(
        self, principal: Principal, cursor: str | None, limit: int, *, everyone: bool = False
    ) -> Page[MediaRequest]:
        visible = [
            r for r in reversed(self.requests) if everyone or r.requested_by == self._who(principal)
        ]
        offset = int(decode_cursor(cursor)["o"]) if cursor else 0
        end = offset + limit
        following = encode_cursor({"o": end}) if end < len(visible) else None
        return Page(items=visible[offset:end], next_cursor=following, total=len(visible))

    async def request_status(
        self, principal: Principal, ids: Sequence[ExternalIds]
    ) -> dict[ExternalIds, MediaRequest]:
        return {i: r for i in ids for r in self.requests if r.ids == i}

    async def act(
        self, principal: Principal, request_id: str, action: RequestAction
    ) -> MediaRequest | None:
        index = self._find(principal, request_id)
        if action == "delete":
            del self.requests[index]
            return None
        updated = self.requests[index].model_copy(update={"status": STATUS_AFTER[action]})
        self.requests[index] = updated
        return updated


class TestMemoryRequests(RequestBackendContract):
    @pytest.fixture
    def request_backend(self) -> MemoryRequests:
        return MemoryRequests()


class TestHelloRequests(RequestBackendContract):
    @pytest.fixture
    def request_backend(self) -> HelloRequests:
        return HelloRequests()


async def test_the_backend_acts_as_the_person_through_their_linked_identity() -> None:
    backend = MemoryRequests()
    assert isinstance(backend, RequestBackend)
    ann = Principal(user_id=7, username="ann", identities={"plex": "9001"}, permissions={"request"})
    created = await backend.create_request(
        ann, MediaRequestCreate(kind="movie", ids=ExternalIds(tmdb=603))
    )
    assert created.requested_by == "9001"


class BrokenRequests(MemoryRequests):
    """Lists everyone's requests to everybody, and pages by position in memory."""

    async def list_requests(
        self, principal: Principal, cursor: str | None, limit: int, *, everyone: bool = False
    ) -> Page[MediaRequest]:
        return Page(items=list(reversed(self.requests))[:limit])


async def test_the_contract_catches_a_backend_that_shows_others_requests() -> None:
    contract = RequestBackendContract()
    people = (
        contract.requester.__wrapped__(contract),  # type: ignore[attr-defined]
        contract.other_requester.__wrapped__(contract),  # type: ignore[attr-defined]
        contract.request_manager.__wrapped__(contract),  # type: ignore[attr-defined]
    )
    wanted = contract.requestable.__wrapped__(contract)  # type: ignore[attr-defined]
    with pytest.raises(AssertionError):
        await contract.test_people_list_their_own_and_managers_everyone(
            BrokenRequests(), *people, wanted
        )
    with pytest.raises(pytest.fail.Exception):
        await contract.test_foreign_cursor_is_refused(BrokenRequests(), people[0])
