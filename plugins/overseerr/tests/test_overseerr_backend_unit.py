"""The request backend against a scripted Overseerr: attribution, paging, call counts."""

from __future__ import annotations

import json

import pytest
from fake_overseerr import FakeOverseerr
from overseerr_testkit import MemoryCache, request_json

from medianest.sdk import ExternalIds, MediaKind, MediaRequestCreate, Principal, RequestStatus
from medianest.sdk.errors import AccountNotLinkedError, ConflictError, InvalidInputError
from medianest_overseerr.backend import OverseerrRequestBackend

ANN = Principal(user_id=10, username="ann", email="ann@example.org", identities={"plex": "9001"})
BOB_BY_EMAIL = Principal(user_id=11, username="bob", email="BOB@example.org")
STRANGER = Principal(user_id=12, username="zed", email="zed@example.org", identities={"plex": "5"})
MATRIX = MediaRequestCreate(kind=MediaKind.MOVIE, ids=ExternalIds(tmdb=603), title="The Matrix")


def backend(fake: FakeOverseerr, cache: MemoryCache | None = None, **overrides: object):
    client, transport = fake.client(**overrides)
    made = OverseerrRequestBackend(
        client.instance, client, cache=(lambda: cache) if cache else None
    )
    return made, transport


async def test_a_request_is_made_as_the_person_found_by_plex_id(fake: FakeOverseerr) -> None:
    made, transport = backend(fake)
    async with made.client:
        created = await made.create_request(ANN, MATRIX)
    post = transport.calls("POST", "/api/v1/request")[0]
    assert post.headers["X-Api-User"] == "2"
    assert json.loads(post.content) == {"mediaType": "movie", "mediaId": 603}
    assert created.backend == "overseerr:home" and created.status is RequestStatus.PENDING
    assert created.title == "The Matrix" and created.requested_by == "Person 2"


async def test_a_person_is_found_by_email_when_plex_does_not_say(fake: FakeOverseerr) -> None:
    made, transport = backend(fake)
    async with made.client:
        await made.create_request(BOB_BY_EMAIL, MATRIX)
    assert transport.calls("POST", "/api/v1/request")[0].headers["X-Api-User"] == "3"


async def test_a_person_without_an_account_is_told_so(fake: FakeOverseerr) -> None:
    made, transport = backend(fake)
    async with made.client:
        with pytest.raises(AccountNotLinkedError, match="zed has no account in Overseerr 'home'"):
            await made.create_request(STRANGER, MATRIX)
    assert not transport.calls("POST", "/api/v1/request"), "nothing is filed as the admin"


async def test_create_missing_users_makes_the_account_then_files(fake: FakeOverseerr) -> None:
    made, transport = backend(fake, create_missing_users=True)
    async with made.client:
        await made.create_request(STRANGER, MATRIX)
    created = json.loads(transport.calls("POST", "/api/v1/user")[0].content)
    assert created == {"email": "zed@example.org", "username": "zed"}
    assert transport.calls("POST", "/api/v1/request")[0].headers["X-Api-User"] == "4"


async def test_the_user_directory_is_read_once_and_shared(fake: FakeOverseerr) -> None:
    cache = MemoryCache()
    first, transport = backend(fake, cache)
    second, other = backend(fake, cache)  # another replica, the same shared cache
    async with first.client, second.client:
        await first.create_request(ANN, MATRIX)
        await second.create_request(
            ANN,
            MediaRequestCreate(kind=MediaKind.MOVIE, ids=ExternalIds(tmdb=550), title="Fight Club"),
        )
    assert len(transport.calls("GET", "/api/v1/user")) == 1
    assert not other.calls("GET", "/api/v1/user")


async def test_no_season_left_is_a_conflict(fake: FakeOverseerr) -> None:
    import httpx

    made, _ = backend(fake)
    async with made.client:
        await made.users.find(ANN)  # the directory, before Overseerr starts answering 202
        fake.fail_with = httpx.Response(202, json={"message": "No seasons available to request"})
        show = MediaRequestCreate(
            kind=MediaKind.SHOW, ids=ExternalIds(tmdb=1399), seasons=(1,), title="Game of Thrones"
        )
        with pytest.raises(ConflictError, match="No seasons available"):
            await made.create_request(ANN, show)
    body = json.loads(fake.seen[-1].content)
    assert body == {"mediaType": "tv", "mediaId": 1399, "seasons": [1]}


async def test_a_request_needs_a_tmdb_id(fake: FakeOverseerr) -> None:
    made, _ = backend(fake)
    async with made.client:
        with pytest.raises(InvalidInputError) as caught:
            await made.create_request(
                ANN, MediaRequestCreate(kind=MediaKind.MOVIE, ids=ExternalIds(imdb="tt0133093"))
            )
    assert caught.value.field == "ids.tmdb"


async def test_paging_does_not_repeat_requests_filed_meanwhile(fake: FakeOverseerr) -> None:
    fake.requests = [request_json(i, tmdb=100 + i) for i in range(1, 6)]
    made, _ = backend(fake)
    admin = Principal(user_id=1, username="root", role="admin")
    async with made.client:
        first = await made.list_requests(admin, None, 2, everyone=True)
        fake.requests.append(request_json(6, tmdb=106))  # pushes everything down by one
        rest = []
        cursor = first.next_cursor
        while cursor:
            page = await made.list_requests(admin, cursor, 2, everyone=True)
            rest += page.items
            cursor = page.next_cursor
    ids = [r.request_id for r in first.items + rest]
    assert ids == ["5", "4", "3", "2", "1"]
    assert first.total == 5


async def test_a_cursor_for_another_listing_is_refused(fake: FakeOverseerr) -> None:
    fake.requests = [request_json(i, tmdb=100 + i) for i in range(1, 4)]
    made, _ = backend(fake)
    admin = Principal(user_id=1, username="root", role="admin")
    async with made.client:
        page = await made.list_requests(admin, None, 1, everyone=True)
        assert page.next_cursor
        with pytest.raises(InvalidInputError) as caught:
            await made.list_requests(ANN, page.next_cursor, 1)
    assert caught.value.field == "cursor"


async def test_status_of_many_ids_reads_pages_of_a_hundred_and_stops_early(
    fake: FakeOverseerr,
) -> None:
    fake.requests = [request_json(i, tmdb=1000 + i) for i in range(1, 251)]
    made, transport = backend(fake)
    asked = [ExternalIds(tmdb=1250), ExternalIds(tmdb=1001), ExternalIds(tmdb=5)]
    async with made.client:
        found = await made.request_status(ANN, asked)
        recent = await made.request_status(ANN, [ExternalIds(tmdb=1249)])
    assert set(found) == {asked[0], asked[1]}
    assert found[asked[1]].request_id == "1"
    listed = transport.calls("GET", "/api/v1/request")
    assert len(listed) == 3 + 1, "ceil(250 / 100) pages for the full walk, one when found early"
    assert recent[ExternalIds(tmdb=1249)].request_id == "249"
    assert "X-Api-User" not in listed[0].headers
