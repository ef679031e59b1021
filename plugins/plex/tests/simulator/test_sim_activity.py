"""PMS sessions and watch history."""

from __future__ import annotations

import httpx
import pytest
from openapi_core import OpenAPI
from plex_sim_specs import validate

from medianest_plex.simulator import Kind, RunningSimulator


def container(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text[:300]
    return response.json()["MediaContainer"]


async def test_sessions_show_who_plays_what(
    pms: httpx.AsyncClient, sim: RunningSimulator, pms_spec: OpenAPI
) -> None:
    response = await pms.get("/status/sessions")
    validate(pms_spec, response)
    sessions = container(response)["Metadata"]
    assert len(sessions) == 2
    friend = sim.world.accounts["friend1"]
    by_user = {s["User"]["title"]: s for s in sessions}
    playing = by_user[friend.title]
    assert playing["type"] == "episode" and playing["Player"]["state"] == "playing"
    assert playing["User"]["id"] == str(friend.id)
    owner_session = by_user[sim.world.owner.title]
    assert owner_session["User"]["id"] == "1" and owner_session["Player"]["state"] == "paused"
    assert {s["Session"]["location"] for s in sessions} <= {"lan", "wan"}


async def test_activity_is_for_the_admin_only(
    sim: RunningSimulator, pms: httpx.AsyncClient
) -> None:
    friend_token = sim.world.servers[0].shares["friend1"].token
    for path in ("/status/sessions", "/status/sessions/history/all"):
        assert (await pms.get(path, headers={"X-Plex-Token": friend_token})).status_code == 401


async def test_history_is_newest_first_and_paged(
    pms: httpx.AsyncClient, sim: RunningSimulator, pms_spec: OpenAPI
) -> None:
    total = len(sim.world.servers[0].activity.history)
    response = await pms.get(
        "/status/sessions/history/all",
        headers={"X-Plex-Container-Start": "0", "X-Plex-Container-Size": "15"},
    )
    validate(pms_spec, response)
    body = container(response)
    assert (body["size"], body["totalSize"]) == (15, total)
    viewed = [r["viewedAt"] for r in body["Metadata"]]
    assert viewed == sorted(viewed, reverse=True)
    record = body["Metadata"][0]
    assert record["historyKey"].startswith("/status/sessions/history/")
    assert isinstance(record["ratingKey"], str) and isinstance(record["accountID"], int)
    rest = container(
        await pms.get(
            "/status/sessions/history/all",
            params={"X-Plex-Container-Start": 15, "X-Plex-Container-Size": total},
        )
    )
    assert rest["size"] == total - 15


async def test_history_filters(pms: httpx.AsyncClient, sim: RunningSimulator) -> None:
    history = sim.world.servers[0].activity.history
    friend_id = sim.world.accounts["friend1"].id
    body = container(await pms.get("/status/sessions/history/all", params={"accountID": friend_id}))
    assert body["totalSize"] == sum(1 for r in history if r.account_local_id == friend_id) > 0
    assert {r["accountID"] for r in body["Metadata"]} == {friend_id}
    cut = sorted(r.viewed_at for r in history)[len(history) // 2]
    recent = container(await pms.get(f"/status/sessions/history/all?viewedAt>={cut}"))
    assert recent["totalSize"] == sum(1 for r in history if r.viewed_at >= cut)
    movies = container(
        await pms.get(
            "/status/sessions/history/all", params={"librarySectionID": 1, "sort": "viewedAt"}
        )
    )
    assert {r["librarySectionID"] for r in movies["Metadata"]} == {"1"}
    ascending = [r["viewedAt"] for r in movies["Metadata"]]
    assert ascending == sorted(ascending)


async def test_history_of_a_show_includes_its_episodes(
    pms: httpx.AsyncClient, sim: RunningSimulator
) -> None:
    record = next(r for r in sim.world.servers[0].activity.history if r.kind == Kind.EPISODE)
    body = container(
        await pms.get(
            "/status/sessions/history/all", params={"metadataItemID": record.grandparent_rating_key}
        )
    )
    assert body["totalSize"] >= 1
    assert all(
        r["grandparentKey"] == f"/library/metadata/{record.grandparent_rating_key}"
        for r in body["Metadata"]
    )


@pytest.mark.parametrize(
    "params",
    [{"accountID": "me"}, {"sort": "title"}, {"viewedAt>": "soon"}, {"metadataItemID": "x"}],
)
async def test_bad_history_parameters_are_400(pms: httpx.AsyncClient, params: dict) -> None:
    assert (await pms.get("/status/sessions/history/all", params=params)).status_code == 400


async def test_stopping_a_session_records_a_view(
    pms: httpx.AsyncClient, sim: RunningSimulator
) -> None:
    world = sim.world
    movie = world.servers[0].library.of_kind(1, Kind.MOVIE)[3]
    session = world.start_session("home", "friend2", movie.rating_key, player=2)
    keys = [s["sessionKey"] for s in container(await pms.get("/status/sessions"))["Metadata"]]
    assert str(session.session_key) in keys
    record = world.stop_session("home", session.session_key)
    assert record is not None
    latest = container(
        await pms.get("/status/sessions/history/all", params={"X-Plex-Container-Size": 1})
    )["Metadata"][0]
    assert latest["ratingKey"] == str(movie.rating_key)
    assert latest["accountID"] == world.accounts["friend2"].id
    assert len(container(await pms.get("/status/sessions"))["Metadata"]) == 2
