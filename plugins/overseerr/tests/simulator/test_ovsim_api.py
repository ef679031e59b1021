"""The simulator's API behaves like the real server: validation, auth, permissions,
requests and their rules, paging. Every answer is checked against the spec (``ov_sim``)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from ovsim_support import SpecChecker

from medianest_overseerr.simulator import OverseerrWorld, RunningOverseerr
from medianest_overseerr.simulator.catalogue import MOVIE, TV, Title

NO_ACCESS = {"status": 403, "error": "You do not have permission to access this endpoint"}
FRIEND = {"X-Api-User": "2"}
MANAGER = {"X-Api-User": "3"}
TRUSTED = {"X-Api-User": "4"}


def requestable(world: OverseerrWorld, media_type: str, skip: int = 0) -> Title:
    found = [t for t in world.catalogue.requestable_only() if t.media_type == media_type]
    return found[skip]


def in_plex(world: OverseerrWorld, media_type: str) -> Title:
    return next(t for t in world.catalogue.in_plex() if t.media_type == media_type)


def full_show(world: OverseerrWorld) -> Title:
    return next(
        t
        for t in world.catalogue.in_plex()
        if t.media_type == TV and t.plex and set(t.season_numbers()) <= t.plex.seasons
    )


def partial_show(world: OverseerrWorld) -> Title:
    return next(
        t
        for t in world.catalogue.in_plex()
        if t.media_type == TV and t.plex and not set(t.season_numbers()) <= t.plex.seasons
    )


async def ask(
    api: httpx.AsyncClient, title: Title, headers: dict[str, str] | None = None, **extra: Any
) -> httpx.Response:
    body: dict[str, Any] = {"mediaType": title.media_type, "mediaId": title.tmdb, **extra}
    return await api.post("/request", json=body, headers=headers or {})


# -- validation, as express-openapi-validator does it ----------------------------------------


async def test_a_plus_for_a_space_is_refused(api: httpx.AsyncClient) -> None:
    answer = await api.get("/search?query=Matrix+Reloaded")
    assert answer.status_code == 400
    message = (
        "Parameter 'query' must be url encoded. Its value may not contain reserved characters."
    )
    assert answer.json() == {
        "message": message,
        "errors": [{"path": ".query.query", "message": message}],
    }
    assert (await api.get("/search?query=Matrix%20Reloaded")).status_code == 200


async def test_search_prefixes(api: httpx.AsyncClient, ov_world: OverseerrWorld) -> None:
    movie = in_plex(ov_world, MOVIE)
    show = in_plex(ov_world, TV)
    hits = (await api.get(f"/search?query=tmdb%3A{movie.tmdb}")).json()["results"]
    assert any(h["id"] == movie.tmdb and h["mediaType"] == "movie" for h in hits)
    assert movie.imdb is not None
    hits = (await api.get(f"/search?query=imdb%3A{movie.imdb}")).json()["results"]
    assert [(h["id"], h["mediaType"]) for h in hits] == [(movie.tmdb, "movie")]
    hits = (await api.get(f"/search?query=tvdb%3A{show.tvdb}")).json()["results"]
    assert [(h["id"], h["mediaType"]) for h in hits] == [(show.tmdb, "tv")]
    assert hits[0]["mediaInfo"]["status"] in (4, 5)
    # unencoded, the colon is a reserved character
    assert (await api.get(f"/search?query=tmdb:{movie.tmdb}")).status_code == 400
    word = movie.title.split()[-1]
    hits = (await api.get(f"/search?query=year%3A{movie.year}%20{word}")).json()["results"]
    assert hits and all(
        (h.get("releaseDate") or h.get("firstAirDate", "")).startswith(str(movie.year))
        for h in hits
    )


async def test_search_pages_by_twenty(api: httpx.AsyncClient) -> None:
    first = (await api.get("/search?query=the")).json()
    assert first["page"] == 1 and len(first["results"]) == 20
    assert first["totalPages"] == -(-first["totalResults"] // 20)
    second = (await api.get("/search?query=the&page=2")).json()
    assert {r["id"] for r in first["results"]}.isdisjoint({r["id"] for r in second["results"]})


@pytest.mark.parametrize(
    ("url", "path", "message"),
    [
        ("/search", ".query.query", "should have required property 'query'"),
        (
            "/request?filter=everything",
            ".query.filter",
            "should be equal to one of the allowed values: all, approved, available, pending, "
            "processing, unavailable, failed",
        ),
        ("/request?take=ten", ".query.take", "should be number"),
        (
            "/request?sortDirection=asc",
            ".query.sortDirection",
            "Unknown query parameter 'sortDirection'",
        ),
    ],
)
async def test_bad_parameters(api: httpx.AsyncClient, url: str, path: str, message: str) -> None:
    answer = await api.get(url)
    assert answer.status_code == 400
    body = answer.json()
    assert body["errors"][0]["path"] == path
    assert body["errors"][0]["message"] == message
    assert message in body["message"]


async def test_bad_bodies(api: httpx.AsyncClient) -> None:
    answer = await api.post("/request", json={"mediaType": "film", "mediaId": "x"})
    assert answer.status_code == 400
    paths = {e["path"] for e in answer.json()["errors"]}
    assert paths == {".body.mediaType", ".body.mediaId"}
    answer = await api.post("/request", json={"mediaType": "tv", "mediaId": 1, "seasons": "some"})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["path"] == ".body.seasons"


async def test_unknown_path_and_method(api: httpx.AsyncClient) -> None:
    answer = await api.get("/nothing/here")
    assert answer.status_code == 404
    assert answer.json()["message"] == "not found"
    answer = await api.patch("/status")
    assert answer.status_code == 405


# -- authentication ---------------------------------------------------------------------------


async def test_bad_or_missing_key_is_403(ov_sim: RunningOverseerr) -> None:
    async with httpx.AsyncClient(base_url=ov_sim.api_url) as anonymous:
        assert (await anonymous.get("/status")).status_code == 200
        answer = await anonymous.get("/auth/me")
        assert (answer.status_code, answer.json()) == (403, NO_ACCESS)
        answer = await anonymous.get("/auth/me", headers={"X-Api-Key": "wrong"})
        assert (answer.status_code, answer.json()) == (403, NO_ACCESS)


async def test_x_api_user_acts_as_that_user(
    api: httpx.AsyncClient, ov_world: OverseerrWorld
) -> None:
    me = (await api.get("/auth/me")).json()
    assert me["id"] == 1 and me["plexId"] == ov_world.plex.owner.id
    friend = (await api.get("/auth/me", headers=FRIEND)).json()
    assert friend["id"] == 2
    assert friend["plexId"] == ov_world.plex.account("friend1").id
    assert friend["email"] == ov_world.plex.account("friend1").email
    for bad in ("999", "abc"):
        answer = await api.get("/auth/me", headers={"X-Api-User": bad})
        assert (answer.status_code, answer.json()) == (403, NO_ACCESS)


async def test_users_mirror_plex_and_a_friend_has_no_account(
    api: httpx.AsyncClient, ov_world: OverseerrWorld
) -> None:
    users = (await api.get("/user?take=50")).json()
    plex_ids = {u["plexId"] for u in users["results"]}
    assert ov_world.plex.account("friend1").id in plex_ids
    assert ov_world.plex.account("friend2").id not in plex_ids
    assert users["pageInfo"] == {"pages": 1, "pageSize": 50, "results": 4, "page": 1}
    answer = await api.get("/user", headers=FRIEND)
    assert (answer.status_code, answer.json()) == (403, NO_ACCESS)


async def test_create_user(api: httpx.AsyncClient) -> None:
    answer = await api.post(
        "/user", json={"email": "new.person@example.com", "username": "newperson"}
    )
    assert answer.status_code == 201
    made = answer.json()
    assert made["permissions"] == 32 and made["userType"] == 2
    assert (await api.get(f"/user/{made['id']}")).json()["email"] == "new.person@example.com"
    again = await api.post("/user", json={"email": "NEW.person@example.com"})
    assert again.status_code == 409
    assert (await api.get("/user/4040")).status_code == 404
    assert (
        await api.post("/user", json={"email": "x@example.com"}, headers=FRIEND)
    ).status_code == 403


# -- requests ---------------------------------------------------------------------------------


async def test_a_friend_request_is_pending_and_theirs_alone(
    api: httpx.AsyncClient, ov_world: OverseerrWorld
) -> None:
    movie = requestable(ov_world, MOVIE)
    answer = await ask(api, movie, FRIEND)
    assert answer.status_code == 201
    made = answer.json()
    assert made["status"] == 1 and made["media"]["status"] == 2
    assert made["requestedBy"]["id"] == 2 and made["modifiedBy"] is None
    await ask(api, requestable(ov_world, MOVIE, 1))  # the admin's own
    mine = (await api.get("/request", headers=FRIEND)).json()
    assert [r["id"] for r in mine["results"]] == [made["id"]]
    everyone = (await api.get("/request")).json()
    assert everyone["pageInfo"]["results"] == 2
    by_friend = (await api.get("/request?requestedBy=2")).json()
    assert [r["id"] for r in by_friend["results"]] == [made["id"]]
    other = everyone["results"][0]["id"]
    answer = await api.get(f"/request/{other}", headers=FRIEND)
    assert answer.status_code == 401
    answer = await api.post(f"/request/{made['id']}/approve", headers=FRIEND)
    assert (answer.status_code, answer.json()) == (403, NO_ACCESS)
    answer = await api.get("/request/count", headers=FRIEND)
    assert answer.status_code == 403


async def test_approve_then_available_then_states(
    api: httpx.AsyncClient, ov_sim: RunningOverseerr, ov_world: OverseerrWorld
) -> None:
    movie = requestable(ov_world, MOVIE)
    made = (await ask(api, movie, FRIEND)).json()
    approved = (await api.post(f"/request/{made['id']}/approve", headers=MANAGER)).json()
    assert approved["status"] == 2
    assert approved["media"]["status"] == 3
    assert approved["modifiedBy"]["id"] == 3
    ov_sim.control.available(made["id"])
    got = (await api.get(f"/request/{made['id']}", headers=FRIEND)).json()
    assert got["media"]["status"] == 5
    available = (await api.get("/request?filter=available")).json()
    assert [r["id"] for r in available["results"]] == [made["id"]]
    details = (await api.get(f"/movie/{movie.tmdb}")).json()
    assert details["mediaInfo"]["status"] == 5
    assert details["mediaInfo"]["requests"][0]["id"] == made["id"]


async def test_decline_fail_and_delete(
    api: httpx.AsyncClient, ov_sim: RunningOverseerr, ov_world: OverseerrWorld
) -> None:
    first = (await ask(api, requestable(ov_world, MOVIE), FRIEND)).json()
    declined = (await api.post(f"/request/{first['id']}/decline")).json()
    assert declined["status"] == 3
    assert declined["media"]["status"] == 1
    # a declined movie can be asked for again
    again = await ask(api, requestable(ov_world, MOVIE), FRIEND)
    assert again.status_code == 201
    ov_sim.control.approve(again.json()["id"])
    failed = ov_sim.control.failed(again.json()["id"])
    assert int(failed.status) == 4
    failures = (await api.get("/request?filter=failed")).json()
    assert [r["id"] for r in failures["results"]] == [again.json()["id"]]
    assert (
        await api.post(f"/request/{again.json()['id']}/retry", headers=FRIEND)
    ).status_code == 403
    retried = (await api.post(f"/request/{again.json()['id']}/retry", headers=MANAGER)).json()
    assert retried["status"] == 2 and retried["media"]["status"] == 3
    assert (await api.post("/request/777/retry")).status_code == 404
    pending = (await ask(api, requestable(ov_world, MOVIE, 1), FRIEND)).json()
    assert (await api.delete(f"/request/{pending['id']}", headers=FRIEND)).status_code == 204
    assert (await api.get(f"/request/{pending['id']}")).status_code == 404
    assert (await api.delete(f"/request/{first['id']}", headers=FRIEND)).status_code == 401
    assert (await api.delete(f"/request/{first['id']}", headers=MANAGER)).status_code == 204


async def test_duplicates_are_409(api: httpx.AsyncClient, ov_world: OverseerrWorld) -> None:
    movie = requestable(ov_world, MOVIE)
    assert (await ask(api, movie, FRIEND)).status_code == 201
    answer = await ask(api, movie, TRUSTED)
    assert (answer.status_code, answer.json()) == (
        409,
        {"message": "Request for this media already exists."},
    )
    answer = await ask(api, in_plex(ov_world, MOVIE), FRIEND)
    assert answer.status_code == 409


async def test_no_season_left_is_202(api: httpx.AsyncClient, ov_world: OverseerrWorld) -> None:
    answer = await ask(api, full_show(ov_world), FRIEND, seasons="all")
    assert (answer.status_code, answer.json()) == (
        202,
        {"message": "No seasons available to request"},
    )
    partial = partial_show(ov_world)
    assert partial.plex is not None
    missing = sorted(set(partial.season_numbers()) - partial.plex.seasons)
    answer = await ask(api, partial, FRIEND, seasons="all")
    assert answer.status_code == 201
    assert [s["seasonNumber"] for s in answer.json()["seasons"]] == missing
    assert (await ask(api, partial, TRUSTED, seasons=missing)).status_code == 202


async def test_auto_approve_permission(api: httpx.AsyncClient, ov_world: OverseerrWorld) -> None:
    show = requestable(ov_world, TV)
    answer = await ask(api, show, TRUSTED, seasons=[1])
    made = answer.json()
    assert made["status"] == 2 and made["media"]["status"] == 3
    assert made["requestedBy"]["id"] == 4 and made["modifiedBy"]["id"] == 4
    assert [s["seasonNumber"] for s in made["seasons"]] == [1]


async def test_quotas(
    api: httpx.AsyncClient, ov_sim: RunningOverseerr, ov_world: OverseerrWorld
) -> None:
    ov_sim.control.set_quota(2, movie_limit=1, movie_days=7, tv_limit=2, tv_days=7)
    assert (await ask(api, requestable(ov_world, MOVIE), FRIEND)).status_code == 201
    answer = await ask(api, requestable(ov_world, MOVIE, 1), FRIEND)
    assert (answer.status_code, answer.json()) == (403, {"message": "Movie Quota exceeded."})
    show = next(
        t
        for t in ov_world.catalogue.requestable_only()
        if t.media_type == TV and len(t.season_numbers()) >= 3
    )
    answer = await ask(api, show, FRIEND, seasons="all")
    assert (answer.status_code, answer.json()) == (403, {"message": "Series Quota exceeded."})
    assert (await ask(api, show, FRIEND, seasons=[1, 2])).status_code == 201
    quota = (await api.get("/user/2/quota")).json()
    assert quota["movie"] == {"used": 1, "restricted": True, "limit": 1, "days": 7, "remaining": 0}
    # the admin is never limited, and the window moves on
    assert (await ask(api, requestable(ov_world, MOVIE, 2))).status_code == 201
    ov_world.advance_clock(8 * 86400)
    assert (await ask(api, requestable(ov_world, MOVIE, 3), FRIEND)).status_code == 201


async def test_request_on_behalf_needs_manage_requests(
    api: httpx.AsyncClient, ov_world: OverseerrWorld
) -> None:
    movie = requestable(ov_world, MOVIE)
    answer = await ask(api, movie, FRIEND, userId=4)
    assert answer.status_code == 403
    answer = await ask(api, movie, MANAGER, userId=2)
    assert answer.status_code == 201 and answer.json()["requestedBy"]["id"] == 2


async def test_paging_filters_and_sorts(api: httpx.AsyncClient, ov_world: OverseerrWorld) -> None:
    movies = [t for t in ov_world.catalogue.requestable_only() if t.media_type == MOVIE][:25]
    ids = []
    for movie in movies:
        ids.append((await ask(api, movie, FRIEND)).json()["id"])
    page = (await api.get("/request?take=10&skip=20")).json()
    assert page["pageInfo"] == {"pages": 3, "pageSize": 10, "results": 25, "page": 3}
    assert [r["id"] for r in page["results"]] == ids[4::-1]
    default = (await api.get("/request")).json()
    assert default["pageInfo"]["pageSize"] == 10 and len(default["results"]) == 10
    ov_world.advance_clock(1)
    await api.post(f"/request/{ids[0]}/approve")
    modified = (await api.get("/request?sort=modified&take=1")).json()
    assert modified["results"][0]["id"] == ids[0]
    pending = (await api.get("/request?filter=pending&take=100")).json()
    assert pending["pageInfo"]["results"] == 24
    count = (await api.get("/request/count")).json()
    assert (count["total"], count["pending"], count["approved"]) == (25, 24, 1)


async def test_media_list(api: httpx.AsyncClient, ov_world: OverseerrWorld) -> None:
    media = (await api.get("/media?take=5&filter=allavailable")).json()
    assert media["pageInfo"]["results"] == sum(1 for _ in ov_world.catalogue.in_plex())
    assert len(media["results"]) == 5
    partial = (await api.get("/media?filter=partial&take=100")).json()
    assert all(m["status"] == 4 and m["mediaType"] == "tv" for m in partial["results"])


async def test_season_details(api: httpx.AsyncClient, ov_world: OverseerrWorld) -> None:
    show = in_plex(ov_world, TV)
    number, episodes = show.seasons[0]
    season = (await api.get(f"/tv/{show.tmdb}/season/{number}")).json()
    assert season["seasonNumber"] == number and len(season["episodes"]) == episodes
    assert (await api.get(f"/tv/{show.tmdb}/season/99")).status_code == 404
    assert (await api.get("/movie/1")).status_code == 404


async def test_every_answer_was_checked(
    api: httpx.AsyncClient, spec_checker: SpecChecker, ov_world: OverseerrWorld
) -> None:
    await ask(api, requestable(ov_world, TV), FRIEND, seasons="all")
    for url in (
        "/status",
        "/auth/me",
        "/request",
        "/request/count",
        "/user",
        "/media",
        f"/tv/{in_plex(ov_world, TV).tmdb}",
        "/settings/notifications/webhook",
    ):
        assert (await api.get(url)).status_code == 200
    assert spec_checker.responses_checked >= 9
    spec_checker.assert_responses_valid()
    spec_checker.assert_requests_valid()


async def test_media_status_and_delete(
    api: httpx.AsyncClient, ov_sim: RunningOverseerr, ov_world: OverseerrWorld
) -> None:
    movie = requestable(ov_world, MOVIE)
    made = (await ask(api, movie, FRIEND)).json()
    media_id = made["media"]["id"]
    assert (await api.post(f"/media/{media_id}/available", headers=FRIEND)).status_code == 403
    answer = await api.post(f"/media/{media_id}/partial")
    assert answer.status_code == 400
    answer = await api.post(f"/media/{media_id}/processing", json={"is4k": False})
    assert answer.json()["status"] == 3
    answer = await api.post(f"/media/{media_id}/available")
    assert answer.json()["status"] == 5
    assert (await api.post("/media/999999/available")).status_code == 404
    # deleted media is forgotten with its requests, and can be requested again
    assert (await api.delete(f"/media/{media_id}")).status_code == 204
    assert (await api.get(f"/request/{made['id']}")).status_code == 404
    assert "mediaInfo" not in (await api.get(f"/movie/{movie.tmdb}")).json()
    assert (await ask(api, movie, FRIEND)).status_code == 201


async def test_update_a_pending_show_request(
    api: httpx.AsyncClient, ov_world: OverseerrWorld
) -> None:
    show = next(
        t
        for t in ov_world.catalogue.requestable_only()
        if t.media_type == TV and len(t.season_numbers()) >= 2
    )
    made = (await ask(api, show, FRIEND, seasons=[1])).json()
    answer = await api.put(
        f"/request/{made['id']}", json={"mediaType": "tv", "seasons": [1, 2]}, headers=FRIEND
    )
    assert answer.status_code == 200
    assert [s["seasonNumber"] for s in answer.json()["seasons"]] == [1, 2]
    answer = await api.put(f"/request/{made['id']}", json={"mediaType": "movie"}, headers=FRIEND)
    assert answer.status_code == 400
    answer = await api.put(f"/request/{made['id']}", json={"seasons": [1]}, headers=FRIEND)
    assert answer.status_code == 400 and answer.json()["errors"][0]["path"] == ".body.mediaType"
    answer = await api.put(
        f"/request/{made['id']}", json={"mediaType": "tv", "userId": 4}, headers=FRIEND
    )
    assert answer.status_code == 403
    moved = await api.put(f"/request/{made['id']}", json={"mediaType": "tv", "userId": 4})
    assert moved.json()["requestedBy"]["id"] == 4
    mine = (await api.get("/user/4/requests")).json()
    assert [r["id"] for r in mine["results"]] == [made["id"]]
    assert (await api.get("/user/4/requests", headers=FRIEND)).status_code == 403
