"""Filing a request: as the person asking, validated, once per work, within quotas."""

from __future__ import annotations

import asyncio

import pytest

from medianest.core.db.models import AuditEvent
from medianest.core.db.models import MediaRequest as RequestRow
from medianest.sdk import events
from medianest.sdk.access import Permission
from medianest.sdk.events import REQUESTS_CHANNEL
from tests.requests.conftest import PROBLEM, REQUESTS, RequestsHub
from tests.requests.fake_backend import BACKEND_ID

ASKER = [Permission.SEARCH, Permission.REQUEST]


async def test_a_film_is_requested_as_the_person_asking(requests_hub: RequestsHub) -> None:
    ann = await requests_hub.person("ann", plex_id="9001", email="ann@example.org")
    async with requests_hub.hub.pubsub.subscribe(REQUESTS_CHANNEL) as channel:
        answer = await requests_hub.ask(ann, kind="movie", tmdb_id=551)
        body = await answer.get_json()
        assert answer.status_code == 201, body
        published = await asyncio.wait_for(anext(channel), 5)
    assert answer.headers["Location"] == f"{REQUESTS}/{body['id']}"
    assert body["status"] == "pending" and body["approved_at_once"] is False
    assert body["title"] == "Film 1" and body["year"] == 1991
    assert body["ids"] == {"tmdb": 551, "imdb": None, "tvdb": None}
    assert body["backend"] == BACKEND_ID and body["remote_id"] in requests_hub.backend.requests
    assert body["requested_by"] == {"id": ann.id, "username": "ann"}
    assert body["interested"] == [{"id": ann.id, "username": "ann"}]
    assert body["seasons"] is None and body["location"] is None
    assert body["links"] == {"self": f"{REQUESTS}/{body['id']}", "media": None}
    # Attribution: the backend acted as Ann, with her linked Plex account and email.
    (call,) = requests_hub.backend.calls_of("create")
    assert call.principal.user_id == ann.id and call.principal.username == "ann"
    assert call.principal.role == "user"
    assert call.principal.identities == {"plex": "9001"}
    assert call.principal.email == "ann@example.org"
    assert requests_hub.backend.requests[body["remote_id"]].requested_by == "9001"
    assert published["request"]["id"] == body["id"]
    created = await requests_hub.events.wait_for(events.REQUEST_CREATED)
    assert created[0].user_id == ann.id
    assert created[0].data["request_id"] == body["id"]
    assert created[0].data["interested"] == [ann.id]
    assert created[0].data["ids"] == {"tmdb": 551}
    with requests_hub.hub.database.activate():
        logged = await AuditEvent.filter(action="request.created").first()
    assert logged is not None and logged.actor_user_id == ann.id
    assert logged.target == f"request:{body['id']}"


async def test_a_show_is_requested_with_its_seasons(embedded_hub: RequestsHub) -> None:
    bob = await embedded_hub.person("bob")
    some = await embedded_hub.ask(bob, kind="show", tmdb_id=1401, seasons=[2, 1, 2])
    assert some.status_code == 201, await some.get_json()
    assert (await some.get_json())["seasons"] == [1, 2]
    (call,) = embedded_hub.backend.calls_of("create")
    filed = embedded_hub.backend.requests[(await some.get_json())["remote_id"]]
    assert filed.seasons == (1, 2) and call.principal.username == "bob"
    every = await embedded_hub.ask(bob, kind="show", tmdb_id=1402, seasons="all")
    assert (await every.get_json())["seasons"] == "all"
    default = await embedded_hub.ask(bob, kind="show", tmdb_id=1403)
    assert (await default.get_json())["seasons"] == "all"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "album", "tmdb_id": 551}, "kind"),
        ({"kind": "show", "tmdb_id": 1401, "seasons": "some"}, "seasons"),
        ({"kind": "show", "tmdb_id": 1401, "seasons": [-1]}, "seasons"),
        ({"kind": "show", "tmdb_id": 1401, "seasons": []}, "seasons"),
        ({"kind": "show", "tmdb_id": 1401, "seasons": ["1"]}, "seasons"),
        ({"kind": "movie", "tmdb_id": 551, "seasons": [1]}, "seasons"),
        ({"kind": "movie"}, "tmdb_id"),
        ({"kind": "movie", "tmdb_id": 551, "media": "fake:lib/1"}, "tmdb_id"),
        ({"kind": "movie", "tmdb_id": 0}, "tmdb_id"),
        ({"kind": "movie", "media": "no-slash"}, "media"),
        ({"kind": "movie", "tmdb_id": 551, "backend": "Not An Id!"}, "backend"),
        ({"kind": "movie", "tmdb_id": 551, "extra": 1}, "extra"),
    ],
)
async def test_bad_input_is_422_naming_the_field(
    embedded_hub: RequestsHub, body: dict, field: str
) -> None:
    cat = await embedded_hub.person("cat")
    answer = await embedded_hub.ask(cat, **body)
    problem = await answer.get_json()
    assert answer.status_code == 422, problem
    assert answer.mimetype == PROBLEM
    assert any(e["field"].startswith(field) for e in problem["errors"]), problem
    assert embedded_hub.backend.calls_of("create") == []
    with embedded_hub.hub.database.activate():
        assert await RequestRow.all().count() == 0


async def test_an_unknown_tmdb_id_is_404_naming_it(embedded_hub: RequestsHub) -> None:
    dan = await embedded_hub.person("dan")
    answer = await embedded_hub.ask(dan, kind="movie", tmdb_id=999999)
    problem = await answer.get_json()
    assert answer.status_code == 404 and "999999" in problem["detail"]
    with embedded_hub.hub.database.activate():
        assert await RequestRow.all().count() == 0


async def test_an_unknown_backend_is_404_naming_it(embedded_hub: RequestsHub) -> None:
    dan = await embedded_hub.person("dan")
    answer = await embedded_hub.ask(dan, kind="movie", tmdb_id=551, backend="nowhere:else")
    assert answer.status_code == 404
    assert "nowhere:else" in (await answer.get_json())["detail"]


async def test_an_unknown_media_reference_is_404_naming_it(embedded_hub: RequestsHub) -> None:
    dan = await embedded_hub.person("dan")
    answer = await embedded_hub.ask(dan, kind="movie", media="fake:lib/nothing")
    assert answer.status_code == 404
    assert "fake:lib/nothing" in (await answer.get_json())["detail"]


async def test_a_media_reference_is_requested_by_its_external_ids(
    requests_hub: RequestsHub,
) -> None:
    eve = await requests_hub.person("eve")
    # Seasons 1 and 2 of a show are in a library; season 3 is not.
    await requests_hub.in_library("plexish:home", "s1", "show", tmdb=1405, tvdb=7005)
    for n in (1, 2):
        await requests_hub.in_library("plexish:home", f"s1-{n}", "season", parent="s1", index=n)
    await requests_hub.in_library("plexish:home", "m1", "movie", imdb="tt0000042")
    answer = await requests_hub.ask(eve, kind="show", media="plexish:home/s1", seasons=[3])
    body = await answer.get_json()
    assert answer.status_code == 201, body
    assert body["ids"] == {"tmdb": 1405, "imdb": None, "tvdb": 7005}
    wrong = await requests_hub.ask(eve, kind="show", media="plexish:home/m1")
    assert wrong.status_code == 422
    assert (await wrong.get_json())["errors"][0]["field"] == "media"


async def test_what_is_in_a_library_already_is_409_saying_where(
    requests_hub: RequestsHub,
) -> None:
    fay = await requests_hub.person("fay")
    await requests_hub.in_library("plexish:home", "77", "movie", tmdb=560)
    await requests_hub.in_library("plexish:home", "s9", "show", tvdb=8009, tmdb=1409)
    await requests_hub.in_library("plexish:home", "s9-1", "season", parent="s9", index=1)
    film = await requests_hub.ask(fay, kind="movie", tmdb_id=560)
    problem = await film.get_json()
    assert film.status_code == 409 and problem["code"] == "already_available"
    assert problem["location"] == {"source": "plexish:home", "item_id": "77"}
    assert "plexish:home" in problem["detail"]
    had = await requests_hub.ask(fay, kind="show", tmdb_id=1409, seasons=[1])
    assert (await had.get_json())["code"] == "already_available"
    missing = await requests_hub.ask(fay, kind="show", tmdb_id=1409, seasons=[1, 2])
    assert missing.status_code == 201, await missing.get_json()
    assert requests_hub.backend.calls_of("create")[0].subject == "1409"


async def test_asking_again_joins_the_open_request(requests_hub: RequestsHub) -> None:
    gus = await requests_hub.person("gus")
    hal = await requests_hub.person("hal")
    first = await (await requests_hub.ask(gus, kind="movie", tmdb_id=552)).get_json()
    await requests_hub.events.wait_for(events.REQUEST_CREATED)
    again = await requests_hub.ask(hal, kind="movie", tmdb_id=552)
    problem = await again.get_json()
    assert again.status_code == 409 and problem["code"] == "already_requested"
    assert problem["request"]["id"] == first["id"]
    assert problem["request"]["interested"] == [
        {"id": gus.id, "username": "gus"},
        {"id": hal.id, "username": "hal"},
    ]
    assert len(requests_hub.backend.calls_of("create")) == 1
    # Hal follows it now: he may read it, and hears of its changes.
    seen = await requests_hub.client.get(f"{REQUESTS}/{first['id']}", headers=hal.headers)
    assert seen.status_code == 200
    admin = await requests_hub.person("boss", role="admin")
    approved = await requests_hub.client.post(
        f"{REQUESTS}/{first['id']}/approve", headers=admin.headers
    )
    assert approved.status_code == 200
    (event,) = await requests_hub.events.wait_for(events.REQUEST_APPROVED)
    assert event.data["interested"] == [gus.id, hal.id]
    await asyncio.sleep(0.1)
    assert len(requests_hub.events.of(events.REQUEST_CREATED)) == 1  # joining is quiet
    # The requester asking again gets the same answer, and is not listed twice.
    mine = await (await requests_hub.ask(gus, kind="movie", tmdb_id=552)).get_json()
    assert [p["id"] for p in mine["request"]["interested"]] == [gus.id, hal.id]


async def test_a_declined_work_may_be_asked_for_again(embedded_hub: RequestsHub) -> None:
    ivy = await embedded_hub.person("ivy")
    admin = await embedded_hub.person("boss", role="admin")
    first = await (await embedded_hub.ask(ivy, kind="movie", tmdb_id=553)).get_json()
    await embedded_hub.client.post(
        f"{REQUESTS}/{first['id']}/decline", json={"reason": "not now"}, headers=admin.headers
    )
    embedded_hub.backend.requests.clear()
    again = await embedded_hub.ask(ivy, kind="movie", tmdb_id=553)
    assert again.status_code == 201, await again.get_json()


async def test_auto_approve_approves_as_the_person(requests_hub: RequestsHub) -> None:
    jo = await requests_hub.person("jo", permissions=[*ASKER, Permission.AUTO_APPROVE])
    answer = await requests_hub.ask(jo, kind="movie", tmdb_id=554)
    body = await answer.get_json()
    assert answer.status_code == 201, body
    assert body["status"] == "approved" and body["approved_at_once"] is True
    assert body["decided_by"] == {"id": jo.id, "username": "jo"}
    (act,) = requests_hub.backend.calls_of("act")
    assert act.principal.username == "jo" and act.principal.role == "user"
    await requests_hub.events.wait_for(events.REQUEST_APPROVED)
    with requests_hub.hub.database.activate():
        logged = await AuditEvent.filter(action="request.approved").first()
    assert logged is not None and logged.details.get("via") == "auto"


async def test_someone_the_backend_does_not_know_gets_409_saying_so(
    requests_hub: RequestsHub,
) -> None:
    kim = await requests_hub.person("kim")
    requests_hub.backend.unlinked.add("kim")
    answer = await requests_hub.ask(kim, kind="movie", tmdb_id=555)
    problem = await answer.get_json()
    assert answer.status_code == 409 and problem["code"] == "account_not_linked"
    assert "no account" in problem["detail"]
    with requests_hub.hub.database.activate():
        assert await RequestRow.all().count() == 0
