"""Edge answers of the simulated Overseerr: the not-found and refused branches of each
route, odd bodies, sorts, and the command's banner."""

from __future__ import annotations

import httpx

from medianest_overseerr.simulator import OverseerrWorld, RunningOverseerr
from medianest_overseerr.simulator.__main__ import banner
from medianest_overseerr.simulator.catalogue import MOVIE, TV

FRIEND = {"X-Api-User": "2"}


async def test_not_found_answers(api: httpx.AsyncClient) -> None:
    for url in (
        "/tv/1",
        "/tv/1/season/1",
        "/user/999/requests",
        "/user/999/quota",
        "/request/999",
        "/request/abc",
    ):
        answer = await api.get(url)
        assert answer.status_code == 404, url
        assert "message" in answer.json()
    for method, url in (
        ("PUT", "/request/999"),
        ("DELETE", "/request/999"),
        ("POST", "/request/999/approve"),
        ("DELETE", "/media/999"),
    ):
        body = {"mediaType": "movie"} if method == "PUT" else None
        answer = await api.request(method, url, json=body)
        assert answer.status_code == 404, url
    answer = await api.post("/request", json={"mediaType": "movie", "mediaId": 1})
    assert answer.status_code == 404
    answer = await api.post("/request", json={"mediaType": "movie", "mediaId": 1, "userId": 99})
    assert answer.status_code == 404
    answer = await api.get("/movie/abc")
    assert answer.status_code == 400 and answer.json()["errors"][0]["path"] == ".params.movieId"
    answer = await api.get("")
    assert answer.status_code == 404


async def test_search_misses(api: httpx.AsyncClient) -> None:
    for query in ("tmdb%3Aabc", "imdb%3Att0000000", "tvdb%3A1", "zzzzqqqq"):
        body = (await api.get(f"/search?query={query}")).json()
        assert body["results"] == [] and body["totalResults"] == 0, query


async def test_odd_bodies(api: httpx.AsyncClient) -> None:
    answer = await api.post(
        "/request", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    answer = await api.post("/request")
    assert answer.status_code == 400 and answer.json()["errors"][0]["path"] == ".body"
    answer = await api.post("/user", json={"username": "nobody"})
    assert answer.status_code == 400 and answer.json() == {"message": "Email is required."}


async def test_list_sorts_and_someone_elses_list(
    api: httpx.AsyncClient, ov_world: OverseerrWorld
) -> None:
    for sort in ("updated", "requests", "displayname"):
        body = (await api.get(f"/user?sort={sort}&take=2")).json()
        assert len(body["results"]) == 2
    for sort in ("modified", "mediaAdded"):
        body = (await api.get(f"/media?sort={sort}&take=3&filter=available")).json()
        assert len(body["results"]) == 3
    none = (await api.get("/request?requestedBy=404")).json()
    assert none["pageInfo"]["results"] == 0
    quota = (await api.get("/user/1/quota")).json()
    assert quota["movie"] == {"used": 0, "restricted": False}
    assert (await api.get("/user/1/quota", headers=FRIEND)).status_code == 403
    assert (await api.get("/status/appdata")).json()["appData"] is True


async def test_a_friend_cannot_edit_or_delete_others(
    api: httpx.AsyncClient, ov_world: OverseerrWorld
) -> None:
    show = next(t for t in ov_world.catalogue.requestable_only() if t.media_type == TV)
    theirs = (
        await api.post(
            "/request", json={"mediaType": "tv", "mediaId": show.tmdb, "seasons": [1], "userId": 4}
        )
    ).json()
    answer = await api.put(f"/request/{theirs['id']}", json={"mediaType": "tv"}, headers=FRIEND)
    assert answer.status_code == 401
    answer = await api.put(f"/request/{theirs['id']}", json={"mediaType": "tv", "userId": 99})
    assert answer.status_code == 404
    movie = next(t for t in ov_world.catalogue.requestable_only() if t.media_type == MOVIE)
    made = (await api.post("/request", json={"mediaType": "movie", "mediaId": movie.tmdb})).json()
    assert (await api.get(f"/request/{made['id']}")).status_code == 200
    # list answers are cached until something changes
    first = (await api.get("/request/count")).json()
    assert (await api.get("/request/count")).json() == first


async def test_the_banner_names_url_key_and_users(ov_sim: RunningOverseerr) -> None:
    text = banner(ov_sim, 0.5)
    assert ov_sim.url in text and ov_sim.api_key in text
    assert "Plex accounts without a user: friend2, managed, stranger" in text
