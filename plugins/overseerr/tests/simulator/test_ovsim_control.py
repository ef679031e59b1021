"""The control API (HTTP and Python): moving requests through their states, users and
quotas, and faults — slow, failing, rate limited, garbage, down, refusing connections."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from medianest_overseerr.simulator import OverseerrWorld, RunningOverseerr
from medianest_overseerr.simulator.catalogue import MOVIE, TV

FRIEND = {"X-Api-User": "2"}


async def _ask_movie(api: httpx.AsyncClient, world: OverseerrWorld, skip: int = 0) -> int:
    movies = [t for t in world.catalogue.requestable_only() if t.media_type == MOVIE]
    answer = await api.post(
        "/request", json={"mediaType": "movie", "mediaId": movies[skip].tmdb}, headers=FRIEND
    )
    assert answer.status_code == 201
    return int(answer.json()["id"])


async def test_state(control: httpx.AsyncClient, ov_world: OverseerrWorld) -> None:
    state = (await control.get("/state")).json()
    assert state["seed"] == ov_world.seed
    assert "friend2" in state["plexAccountsWithoutUser"]
    assert [u["id"] for u in state["users"]] == [1, 2, 3, 4]
    assert state["titles"]["requestableOnly"] == 60


async def test_move_a_request_through_its_states(
    api: httpx.AsyncClient, control: httpx.AsyncClient, ov_world: OverseerrWorld
) -> None:
    first = await _ask_movie(api, ov_world)
    approved = (await control.post(f"/requests/{first}/approve")).json()
    assert approved["status"] == 2 and approved["media"]["status"] == 3
    available = (await control.post(f"/requests/{first}/available")).json()
    assert available["media"]["status"] == 5
    second = await _ask_movie(api, ov_world, 1)
    assert (await control.post(f"/requests/{second}/decline")).json()["status"] == 3
    third = await _ask_movie(api, ov_world, 2)
    assert (await control.post(f"/requests/{third}/failed")).json()["status"] == 4
    answer = await control.post(f"/requests/{third}/explode")
    assert answer.status_code == 400 and "action must be one of" in answer.json()["error"]
    answer = await control.post("/requests/9999/approve")
    assert answer.status_code == 404 and answer.json()["status"] == 404


async def test_media_available_without_a_request(
    api: httpx.AsyncClient, control: httpx.AsyncClient, ov_world: OverseerrWorld
) -> None:
    show = next(t for t in ov_world.catalogue.requestable_only() if t.media_type == TV)
    media = (
        await control.post(
            "/media/available", json={"mediaType": "tv", "tmdbId": show.tmdb, "seasons": [1]}
        )
    ).json()
    expected = 5 if show.season_numbers() == [1] else 4
    assert media["status"] == expected
    details = (await api.get(f"/tv/{show.tmdb}")).json()
    assert details["mediaInfo"]["status"] == expected
    answer = await control.post("/media/available", json={"mediaType": "tv", "tmdbId": 1})
    assert answer.status_code == 404


async def test_users_and_quotas(
    api: httpx.AsyncClient, control: httpx.AsyncClient, ov_world: OverseerrWorld
) -> None:
    made = await control.post("/users", json={"plexAccount": "friend2"})
    assert made.status_code == 201
    user = made.json()
    assert user["plexId"] == ov_world.plex.account("friend2").id
    me = (await api.get("/auth/me", headers={"X-Api-User": str(user["id"])})).json()
    assert me["email"] == ov_world.plex.account("friend2").email
    again = await control.post("/users", json={"plexAccount": "friend2"})
    assert again.status_code == 400
    local = await control.post("/users", json={"email": "a@example.com", "permissions": 160})
    assert local.json()["permissions"] == 160
    quota = await control.put("/users/2/quota", json={"movieQuotaLimit": 3, "movieQuotaDays": 2})
    assert quota.json()["movieQuotaLimit"] == 3
    assert (await api.get("/user/2")).json()["movieQuotaDays"] == 2
    bad = await control.put("/users/2/quota", json={"movieQuotaLimit": "lots"})
    assert bad.status_code == 400
    patched = await control.patch("/users/2", json={"permissions": 48})
    assert patched.json()["permissions"] == 48
    assert (await api.get("/request/count", headers=FRIEND)).status_code == 200


async def test_slow(api: httpx.AsyncClient, control: httpx.AsyncClient) -> None:
    await control.post("/slow", json={"ms": 600})
    started = time.perf_counter()
    assert (await api.get("/status")).status_code == 200
    assert time.perf_counter() - started >= 0.6
    started = time.perf_counter()
    assert (await control.get("/state")).status_code == 200  # never slowed
    assert time.perf_counter() - started < 0.6
    await control.post("/slow", json={"ms": 0})
    assert (await control.get("/faults")).json() == []


async def test_fail_n_times(api: httpx.AsyncClient, control: httpx.AsyncClient) -> None:
    await control.post("/fail", json={"status": 500, "times": 2})
    assert [(await api.get("/status")).status_code for _ in range(3)] == [500, 500, 200]
    await control.post("/fail", json={"status": 429, "times": 1, "retryAfter": 7})
    limited = await api.get("/status")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    await control.post("/fail", json={"garbage": True, "times": 1})
    garbage = await api.get("/auth/me")
    assert garbage.status_code == 200
    with pytest.raises(ValueError):
        garbage.json()
    assert (await api.get("/auth/me")).json()["id"] == 1


async def test_down_and_up(api: httpx.AsyncClient, control: httpx.AsyncClient) -> None:
    assert (await control.post("/down", json={"mode": "503"})).status_code == 200
    answer = await api.get("/status")
    assert answer.status_code == 503 and answer.headers["content-type"].startswith("text/html")
    assert (await control.post("/up")).status_code == 200
    assert (await api.get("/status")).status_code == 200
    bad = await control.post("/down", json={"mode": "sideways"})
    assert bad.status_code == 400


async def test_refusing_connections(ov_sim: RunningOverseerr) -> None:
    ov_sim.control.slow(50)
    refusing = asyncio.create_task(ov_sim.control.refuse(1.5))
    await asyncio.sleep(0.5)
    async with httpx.AsyncClient(base_url=ov_sim.api_url) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/status")
        await refusing
        started = time.perf_counter()
        assert (await client.get("/status")).status_code == 200
        assert time.perf_counter() - started >= 0.05, "other faults outlive the refusal"


async def test_refusing_over_http(ov_sim: RunningOverseerr, control: httpx.AsyncClient) -> None:
    answer = await control.post("/down", json={"mode": "refuse", "seconds": 1.5})
    assert answer.status_code == 202
    await asyncio.sleep(0.5)
    async with httpx.AsyncClient(base_url=ov_sim.api_url) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/status")
        async with asyncio.timeout(15):
            while True:
                try:
                    assert (await client.get("/status")).status_code == 200
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.2)


async def test_raw_fault_rules_and_reset(
    api: httpx.AsyncClient, control: httpx.AsyncClient, ov_world: OverseerrWorld
) -> None:
    rule = (
        await control.post(
            "/faults", json={"mode": "error", "status": 502, "path": "/api/v1/request*"}
        )
    ).json()
    assert (await api.get("/request")).status_code == 502
    assert (await api.get("/status")).status_code == 200
    assert (await control.delete(f"/faults/{rule['id']}")).status_code == 200
    assert (await control.delete("/faults/999")).status_code == 404
    bad = await control.post("/faults", json={"mode": "explode"})
    assert bad.status_code == 400
    await _ask_movie(api, ov_world)
    await control.post("/clock", json={"advance": 60})
    state = (await control.post("/reset")).json()
    assert state["requests"] == 0
    assert (await api.get("/request")).json()["pageInfo"]["results"] == 0
