"""Availability from syncs: a sync that finds a requested title makes the request available
there (even if the backend never said so); a full sync that removes it from every library
makes it requestable again."""

from __future__ import annotations

from medianest.core.db.models import MediaRequest as RequestRow
from medianest.core.requests.availability import GONE_REASON
from medianest.core.sync import RunKind
from medianest.sdk.testing import RunningHub
from tests.requests_status.conftest import Recorder
from tests.requests_status.fake_backend import FakeBackend, local_request, person
from tests.sync.fake_source import FakeLibrary, movie
from tests.sync.sync_testing import sync


async def test_a_sync_finding_the_title_makes_the_request_available_there(
    status_hub: RunningHub, backend: FakeBackend, library: FakeLibrary, recorder: Recorder
) -> None:
    user = await person()
    wanted = await local_request(user, backend.add("1", "movie", 10_205, status="approved"))
    # The same TMDB number as a show is another work: it stays as it is.
    show = await local_request(user, backend.add("2", "show", 10_206))
    missing = await local_request(user, backend.add("3", "movie", 99_999))
    declined = await local_request(user, backend.add("4", "movie", 10_207, status="declined"))

    run = await sync(status_hub.hub, "fakereq:lib")

    assert run.status == "succeeded"
    await wanted.refresh_from_db()
    assert (wanted.status, wanted.location_source, wanted.location_item_id) == (
        "available",
        "fakereq:lib",
        "205",
    )
    assert wanted.available_at is not None
    for other, status in ((show, "pending"), (missing, "pending"), (declined, "declined")):
        await other.refresh_from_db()
        assert other.status == status and other.location_source is None
    await status_hub.hub.events.flush()
    [event] = recorder.of("request.available")
    assert event.data["request_id"] == wanted.id
    assert event.data["location"] == {"source": "fakereq:lib", "item_id": "205"}
    assert event.user_id == user.id

    # Found again by the next sync: nothing changes, nothing is announced twice.
    stamp = wanted.updated_at
    await sync(status_hub.hub, "fakereq:lib")
    await wanted.refresh_from_db()
    assert wanted.updated_at == stamp
    await status_hub.hub.events.flush()
    assert len(recorder.of("request.available")) == 1


async def test_an_incremental_sync_finding_a_new_title_makes_it_available(
    status_hub: RunningHub, backend: FakeBackend, library: FakeLibrary
) -> None:
    await sync(status_hub.hub, "fakereq:lib")
    request = await local_request(await person(), backend.add("1", "movie", 10_301))
    library.items.append(movie("fakereq:lib", 301))

    await sync(status_hub.hub, "fakereq:lib", RunKind.INCREMENTAL)

    await request.refresh_from_db()
    assert (request.status, request.location_source, request.location_item_id) == (
        "available",
        "fakereq:lib",
        "301",
    )


async def test_a_title_gone_from_every_library_can_be_requested_again(
    status_hub: RunningHub, backend: FakeBackend, library: FakeLibrary, recorder: Recorder
) -> None:
    user = await person()
    request = await local_request(user, backend.add("1", "movie", 10_120, status="approved"))
    await sync(status_hub.hub, "fakereq:lib")
    await request.refresh_from_db()
    assert request.status == "available"

    library.items = [item for item in library.items if item.ref.item_id != "120"]
    run = await sync(status_hub.hub, "fakereq:lib")

    assert run.deleted == 1
    await request.refresh_from_db()
    assert request.status == "deleted"
    assert request.reason == f"{GONE_REASON} (it was in fakereq:lib)"
    await status_hub.hub.events.flush()
    [event] = recorder.of("request.deleted")
    assert event.data["request_id"] == request.id
    # Not open any more: the same title may be asked for again.
    again = await local_request(user, backend.add("2", "movie", 10_120))
    assert again.status == "pending"


async def test_a_title_still_in_another_library_stays_available_there(
    status_hub: RunningHub,
    backend: FakeBackend,
    library: FakeLibrary,
    cabin: FakeLibrary,
    recorder: Recorder,
) -> None:
    request = await local_request(await person(), backend.add("1", "movie", 10_010))
    await sync(status_hub.hub, "fakereq:lib")
    await sync(status_hub.hub, "fakereq:cabin")
    await request.refresh_from_db()
    assert (request.status, request.location_source) == ("available", "fakereq:lib")

    library.items = [item for item in library.items if item.ref.item_id != "10"]
    await sync(status_hub.hub, "fakereq:lib")

    await request.refresh_from_db()
    assert (request.status, request.location_source, request.location_item_id) == (
        "available",
        "fakereq:cabin",
        "10",
    )
    await status_hub.hub.events.flush()
    assert recorder.of("request.deleted") == []
    assert len(recorder.of("request.available")) == 1


async def test_the_sync_goes_on_when_marking_fails(
    status_hub: RunningHub, backend: FakeBackend, library: FakeLibrary, monkeypatch
) -> None:
    await local_request(await person(), backend.add("1", "movie", 10_001))

    async def broken(*args, **kwargs):
        raise RuntimeError("the request table is on fire")

    monkeypatch.setattr(status_hub.hub.requests, "mark", broken)
    run = await sync(status_hub.hub, "fakereq:lib")
    assert run.status == "succeeded" and run.inserted == 300
    assert (await RequestRow.get(remote_id="1")).status == "pending"
