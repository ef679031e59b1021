"""Search hits and media details say "requested": the request's id and status for everyone
who may search, who asked only for that person and for request managers; one lookup on the
hub's records, never a call to the backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from medianest.core.db.models import MediaRequest as RequestRow
from medianest.core.db.models import User
from medianest.core.web.media_schemas import MediaDetails
from medianest.core.web.search_schemas import SearchResponse
from medianest.sdk import ExternalIds
from medianest.sdk.access import Permission
from medianest.sdk.testing import HubHarness, RunningHub
from tests.requests_status.fake_backend import FakeBackend, FakeBackendPlugin, local_request
from tests.search.fake_live import FakeLivePlugin, FakeLiveSource, live_item
from tests.sync.conftest import SYNC_SETTINGS
from tests.sync.fake_source import FakeLibrary
from tests.sync.sync_testing import sync

LIVE_TMDB = 424_242


@pytest.fixture
def tube() -> FakeLiveSource:
    """A live source (like Overseerr's search) holding a film no library has."""
    return FakeLiveSource(
        "fakelive:tube",
        [live_item("fakelive:tube", "Zyzzyva Nights", item_id="z", ids={"tmdb": LIVE_TMDB})],
    )


@pytest.fixture
async def marks_hub(
    medianest_hub: HubHarness,
    backend: FakeBackend,
    library: FakeLibrary,
    tube: FakeLiveSource,
    mode: dict,
) -> AsyncIterator[RunningHub]:
    async with medianest_hub.run(
        {
            "fakereq": FakeBackendPlugin(backend, sources=[library]),
            "fakelive": FakeLivePlugin(tube),
        },
        sync=SYNC_SETTINGS,
        **mode,
    ) as running:
        with running.hub.database.activate():
            assert (await sync(running.hub, "fakereq:lib")).status == "succeeded"
        yield running


class People:
    """The asker, someone else who may search, and a request manager: their headers."""

    def __init__(self, asker: dict[str, str], other: dict[str, str], manager: dict[str, str]):
        self.asker, self.other, self.manager = asker, other, manager


@pytest.fixture
async def people(marks_hub: RunningHub) -> People:
    return People(
        await marks_hub.sign_in(username="asker"),
        await marks_hub.sign_in(username="other"),
        await marks_hub.sign_in(
            username="manager", permissions=[Permission.SEARCH, Permission.MANAGE_REQUESTS]
        ),
    )


async def requested(hub: RunningHub, backend: FakeBackend, tmdb: int, status: str) -> RequestRow:
    with hub.hub.database.activate():
        asker = await User.get(username="asker")
        return await local_request(asker, backend.add(str(tmdb), "movie", tmdb), status=status)


async def search(hub: RunningHub, headers: dict[str, str], q: str) -> dict[str, Any]:
    response = await hub.client.get(
        "/api/v1/search", query_string={"q": q, "kind": "movie"}, headers=headers
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    SearchResponse.model_validate(body)
    return body


def hit_with(body: dict[str, Any], tmdb: int) -> dict[str, Any]:
    return next(hit for hit in body["items"] if hit["ids"]["tmdb"] == tmdb)


async def details(hub: RunningHub, headers: dict[str, str], path: str) -> dict[str, Any]:
    response = await hub.client.get(f"/api/v1/media/{path}", headers=headers)
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    MediaDetails.model_validate(body)
    return body


async def test_search_hits_say_requested_and_who_asked_only_to_those_allowed(
    marks_hub: RunningHub, backend: FakeBackend, people: People
) -> None:
    row = await requested(marks_hub, backend, 10_007, "approved")
    asker_id = row.requested_by_id  # type: ignore[attr-defined]
    whole = {
        "id": row.id,
        "status": "approved",
        "requested_by": {"id": asker_id, "username": "asker"},
    }

    for headers, expected in (
        (people.asker, whole),
        (people.manager, whole),
        (people.other, {"id": row.id, "status": "approved", "requested_by": None}),
    ):
        body = await search(marks_hub, headers, "Film 7")
        assert hit_with(body, 10_007)["request"] == expected
        assert hit_with(body, 10_070)["request"] is None


async def test_a_kept_answer_still_shows_the_request_as_it_is_now(
    marks_hub: RunningHub, backend: FakeBackend, people: People
) -> None:
    first = await search(marks_hub, people.other, "Film 8")
    assert hit_with(first, 10_008)["request"] is None
    row = await requested(marks_hub, backend, 10_008, "pending")

    again = await search(marks_hub, people.other, "Film 8")
    assert again["cached"] is True
    assert hit_with(again, 10_008)["request"] == {
        "id": row.id,
        "status": "pending",
        "requested_by": None,
    }

    with marks_hub.hub.database.activate():
        await marks_hub.hub.requests.mark(row.id, "approved")
    third = await search(marks_hub, people.other, "Film 8")
    assert hit_with(third, 10_008)["request"]["status"] == "approved"


async def test_live_source_hits_say_requested_too(
    marks_hub: RunningHub, backend: FakeBackend, people: People
) -> None:
    row = await requested(marks_hub, backend, LIVE_TMDB, "pending")
    body = await search(marks_hub, people.manager, "Zyzzyva")
    hit = hit_with(body, LIVE_TMDB)
    assert hit["available"] is False
    assert hit["request"] == {
        "id": row.id,
        "status": "pending",
        "requested_by": {"id": row.requested_by_id, "username": "asker"},  # type: ignore[attr-defined]
    }


async def test_a_show_request_does_not_mark_the_film_with_the_same_tmdb_number(
    marks_hub: RunningHub, backend: FakeBackend, people: People
) -> None:
    with marks_hub.hub.database.activate():
        asker = await User.get(username="asker")
        await local_request(asker, backend.add("1", "show", 10_009))
    body = await search(marks_hub, people.asker, "Film 9")
    assert hit_with(body, 10_009)["request"] is None


async def test_media_details_say_requested_with_who_asked_by_permission(
    marks_hub: RunningHub, backend: FakeBackend, people: People
) -> None:
    row = await requested(marks_hub, backend, 10_011, "processing")
    asker = {"id": row.requested_by_id, "username": "asker"}  # type: ignore[attr-defined]

    mine = await details(marks_hub, people.asker, "fakereq:lib/11")
    assert mine["request"] == {"id": row.id, "status": "processing", "requested_by": asker}
    managed = await details(marks_hub, people.manager, "fakereq:lib/11")
    assert managed["request"]["requested_by"] == asker
    theirs = await details(marks_hub, people.other, "fakereq:lib/11")
    assert theirs["request"] == {"id": row.id, "status": "processing", "requested_by": None}
    assert (await details(marks_hub, people.other, "fakereq:lib/12"))["request"] is None

    live = await details(marks_hub, people.other, "fakelive:tube/z")
    assert live["request"] is None
    live_row = await requested(marks_hub, backend, LIVE_TMDB, "approved")
    live = await details(marks_hub, people.other, "fakelive:tube/z")
    assert live["request"] == {"id": live_row.id, "status": "approved", "requested_by": None}


async def test_deleted_requests_mark_nothing(
    marks_hub: RunningHub, backend: FakeBackend, people: People
) -> None:
    await requested(marks_hub, backend, 10_013, "deleted")
    body = await search(marks_hub, people.manager, "Film 13")
    assert hit_with(body, 10_013)["request"] is None


async def test_the_indexed_lookup_answers_as_the_requests_service_does(
    marks_hub: RunningHub, backend: FakeBackend, people: People
) -> None:
    hub = marks_hub.hub
    with hub.database.activate():
        asker = await User.get(username="asker")
        await local_request(asker, backend.add("1", "movie", 777), status="declined")
        await local_request(asker, backend.add("2", "movie", 777), status="pending")
        await local_request(asker, backend.add("3", "show", 778), status="available")
        await local_request(asker, backend.add("4", "movie", 779), status="deleted")
        await local_request(asker, backend.add("5", "movie", 780), status="approved")
        await local_request(asker, backend.add("6", "movie", 780), status="available")
    ids = [ExternalIds(tmdb=n) for n in (777, 778, 779, 780, 781)]
    for kind in (None, "movie", "show"):
        expected = await hub.requests.lookup_by_ids(ids, kind=kind)
        got = await hub.request_marks.lookup_by_ids(ids, kind=kind)
        assert {k: (v.id, v.kind, v.status, v.requested_by) for k, v in got.items()} == {
            k: (v.id, v.kind, v.status, v.requested_by) for k, v in expected.items()
        }
    answer = await hub.request_marks.lookup_by_ids(ids)
    assert answer[ExternalIds(tmdb=777)].status == "pending"  # open before closed
    assert ExternalIds(tmdb=779) not in answer  # deleted marks nothing
