"""Requests are made in Overseerr as the person who asks, never as its admin."""

from __future__ import annotations

import json

import pytest
from overseerr_testkit import SpecCheckingTransport, instance_for

from medianest.sdk import (
    ExternalIds,
    MediaKind,
    MediaRequestCreate,
    Principal,
    RequestStatus,
)
from medianest.sdk.errors import (
    AccountNotLinkedError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
)
from medianest_overseerr.backend import OverseerrRequestBackend
from medianest_overseerr.client import OverseerrClient
from medianest_overseerr.simulator import OverseerrWorld, RunningOverseerr


def movie(world: OverseerrWorld, index: int = 0) -> MediaRequestCreate:
    titles = [t for t in world.catalogue.requestable_only() if t.media_type == "movie"]
    return MediaRequestCreate(kind=MediaKind.MOVIE, ids=ExternalIds(tmdb=titles[index].tmdb))


def show(world: OverseerrWorld) -> tuple[MediaRequestCreate, list[int]]:
    title = next(t for t in world.catalogue.requestable_only() if t.media_type == "tv")
    seasons = title.season_numbers()
    ask = MediaRequestCreate(kind=MediaKind.SHOW, ids=ExternalIds(tmdb=title.tmdb), seasons=(1,))
    return ask, seasons


async def test_the_request_is_the_persons_own_in_overseerr(
    backend: OverseerrRequestBackend,
    recorder: SpecCheckingTransport,
    overseerr_world: OverseerrWorld,
    friend: Principal,
) -> None:
    created = await backend.create_request(friend, movie(overseerr_world))
    (post,) = recorder.calls("POST", "/api/v1/request")
    assert post.headers["X-Api-User"] == "2", "friend1 is Overseerr user 2, never the admin (1)"
    stored = overseerr_world.request(int(created.request_id))
    assert stored.requested_by.id == 2
    assert created.status is RequestStatus.PENDING, "friend1 has no auto-approve in Overseerr"
    assert created.requested_by == overseerr_world.user(2).display_name
    asked = next(t for t in overseerr_world.catalogue.requestable_only() if t.media_type == "movie")
    assert (created.title, created.year) == (asked.title, asked.year), "named from /movie/{id}"


async def test_an_unknown_tmdb_id_is_refused_before_anything_is_filed(
    backend: OverseerrRequestBackend,
    recorder: SpecCheckingTransport,
    friend: Principal,
) -> None:
    unknown = MediaRequestCreate(kind=MediaKind.MOVIE, ids=ExternalIds(tmdb=987654321))
    with pytest.raises(NotFoundError):
        await backend.create_request(friend, unknown)
    assert recorder.calls("POST", "/api/v1/request") == []


async def test_a_person_without_an_overseerr_user_gets_a_clear_refusal(
    backend: OverseerrRequestBackend,
    recorder: SpecCheckingTransport,
    overseerr_world: OverseerrWorld,
    no_account: Principal,
) -> None:
    with pytest.raises(AccountNotLinkedError) as caught:
        await backend.create_request(no_account, movie(overseerr_world))
    assert f"{no_account.username} has no account in Overseerr 'home'" in caught.value.message
    assert not recorder.calls("POST", "/api/v1/request")
    assert not overseerr_world.requests


async def test_with_create_missing_users_the_account_is_made_first(
    overseerr_sim: RunningOverseerr, overseerr_world: OverseerrWorld, no_account: Principal
) -> None:
    recorder = SpecCheckingTransport()
    instance = instance_for(overseerr_sim, create_missing_users=True)
    backend = OverseerrRequestBackend(instance, OverseerrClient(instance, transport=recorder))
    async with backend.client:
        created = await backend.create_request(no_account, movie(overseerr_world))
        again = await backend.create_request(no_account, movie(overseerr_world, 1))
    made = [u for u in overseerr_world.users.values() if u.email == no_account.email]
    assert len(made) == 1, "one account, made once"
    for post in recorder.calls("POST", "/api/v1/request"):
        assert post.headers["X-Api-User"] == str(made[0].id)
    assert overseerr_world.request(int(created.request_id)).requested_by is made[0]
    assert again.request_id != created.request_id
    assert len(recorder.calls("POST", "/api/v1/user")) == 1


async def test_overseerrs_quota_refusal_says_quota(
    backend: OverseerrRequestBackend, overseerr_world: OverseerrWorld, friend: Principal
) -> None:
    overseerr_world.set_quota(2, movie_limit=1, movie_days=7)
    await backend.create_request(friend, movie(overseerr_world))
    with pytest.raises(PermissionDeniedError, match="quota"):
        await backend.create_request(friend, movie(overseerr_world, 1))


async def test_shows_ask_for_seasons_and_none_left_is_a_conflict(
    backend: OverseerrRequestBackend,
    recorder: SpecCheckingTransport,
    overseerr_world: OverseerrWorld,
    friend: Principal,
) -> None:
    ask, _ = show(overseerr_world)
    created = await backend.create_request(friend, ask)
    assert created.kind is MediaKind.SHOW and created.seasons == (1,)
    body = json.loads(recorder.calls("POST", "/api/v1/request")[0].content)
    assert body["mediaType"] == "tv" and body["seasons"] == [1]
    with pytest.raises(ConflictError):
        await backend.create_request(friend, ask)


async def test_a_manager_acts_as_their_own_overseerr_user(
    backend: OverseerrRequestBackend,
    recorder: SpecCheckingTransport,
    overseerr_world: OverseerrWorld,
    friend: Principal,
    manager: Principal,
) -> None:
    created = await backend.create_request(friend, movie(overseerr_world))
    approved = await backend.act(manager, created.request_id, "approve")
    assert approved is not None and approved.status is not RequestStatus.PENDING
    (approve,) = recorder.calls("POST", f"/api/v1/request/{created.request_id}/approve")
    assert approve.headers["X-Api-User"] == "3"
    assert overseerr_world.request(int(created.request_id)).modified_by.id == 3


async def test_a_person_may_not_approve_their_own_request(
    backend: OverseerrRequestBackend, overseerr_world: OverseerrWorld, friend: Principal
) -> None:
    created = await backend.create_request(friend, movie(overseerr_world))
    with pytest.raises(PermissionDeniedError, match="Overseerr 'home'"):
        await backend.act(friend, created.request_id, "approve")


async def test_deleting_removes_the_request_in_overseerr(
    backend: OverseerrRequestBackend, overseerr_world: OverseerrWorld, friend: Principal
) -> None:
    created = await backend.create_request(friend, movie(overseerr_world))
    assert await backend.act(friend, created.request_id, "delete") is None
    assert int(created.request_id) not in overseerr_world.requests
    with pytest.raises(NotFoundError):
        await backend.get_request(friend, created.request_id)


async def test_people_list_only_their_own_requests(
    backend: OverseerrRequestBackend,
    overseerr_world: OverseerrWorld,
    friend: Principal,
    manager: Principal,
    no_account: Principal,
) -> None:
    mine = await backend.create_request(friend, movie(overseerr_world))
    theirs = await backend.create_request(manager, movie(overseerr_world, 1))
    own = await backend.list_requests(friend, None, 10)
    assert [r.request_id for r in own.items] == [mine.request_id] and own.total == 1
    everyone = await backend.list_requests(manager, None, 10, everyone=True)
    assert [r.request_id for r in everyone.items] == [theirs.request_id, mine.request_id]
    nothing = await backend.list_requests(no_account, None, 10)
    assert nothing.items == [] and nothing.total == 0


async def test_a_failed_request_can_be_retried_by_a_manager(
    backend: OverseerrRequestBackend,
    recorder: SpecCheckingTransport,
    overseerr_sim: RunningOverseerr,
    overseerr_world: OverseerrWorld,
    friend: Principal,
    manager: Principal,
) -> None:
    created = await backend.create_request(friend, movie(overseerr_world))
    overseerr_sim.control.approve(int(created.request_id))
    overseerr_sim.control.failed(int(created.request_id))
    assert (await backend.get_request(friend, created.request_id)).status is RequestStatus.FAILED
    retried = await backend.act(manager, created.request_id, "retry")
    assert retried is not None and retried.status is not RequestStatus.FAILED
    (retry,) = recorder.calls("POST", f"/api/v1/request/{created.request_id}/retry")
    assert retry.headers["X-Api-User"] == "3"
