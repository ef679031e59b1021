"""The simulated Overseerr's titles come from the Plex simulator's world: same ids for the
titles Plex holds, plus titles only requestable; it builds and pages fast; it runs as a
command."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import httpx
import pytest

from medianest_overseerr.simulator import OverseerrWorld, serve_simulator
from medianest_overseerr.simulator.catalogue import MOVIE, TV
from medianest_plex.simulator import PlexWorld
from medianest_plex.simulator.generate import MOVIES_SECTION, SHOWS_SECTION
from medianest_plex.simulator.items import Kind
from medianest_plex.simulator.metadata import external_ids


def test_titles_share_the_plex_ids() -> None:
    plex = PlexWorld(seed=9, items=300, servers=2)
    world = OverseerrWorld(plex, requestable=50)
    seen = 0
    for server in plex.servers:
        for kind, section, media_type in (
            (Kind.MOVIE, MOVIES_SECTION, MOVIE),
            (Kind.SHOW, SHOWS_SECTION, TV),
        ):
            for item in server.library.of_kind(section, kind):
                ids = external_ids(item)
                if ids.tmdb is None:
                    assert all(t.ident != item.ident for t in world.catalogue.titles)
                    continue
                title = world.catalogue.get(media_type, ids.tmdb)
                assert title is not None and title.plex is not None
                if title.ident == item.ident:
                    assert (title.imdb, title.title, title.year) == (
                        ids.imdb,
                        item.title,
                        item.year,
                    )
                    seen += 1
    assert seen > 100
    only = list(world.catalogue.requestable_only())
    assert len(only) == 50
    assert all(world.media_for(t) is None for t in only)
    shows = [t for t in world.catalogue.in_plex() if t.media_type == TV]
    assert any(t.plex and set(t.season_numbers()) > t.plex.seasons for t in shows)


def test_same_seed_same_world() -> None:
    first = OverseerrWorld(seed=4, plex_items=200)
    second = OverseerrWorld(seed=4, plex_items=200)
    assert [(t.media_type, t.tmdb, t.title) for t in first.catalogue.titles] == [
        (t.media_type, t.tmdb, t.title) for t in second.catalogue.titles
    ]
    assert [u.email for u in first.users.values()] == [u.email for u in second.users.values()]
    other = OverseerrWorld(seed=5, plex_items=200)
    assert {t.tmdb for t in other.catalogue.titles} != {t.tmdb for t in first.catalogue.titles}


def test_users_mirror_plex_accounts() -> None:
    world = OverseerrWorld(seed=3, plex_items=50)
    owner = world.users[1]
    assert owner.plex_id == world.plex.owner.id and owner.email == world.plex.owner.email
    assert world.user_for_plex_account("friend1") is not None
    assert world.user_for_plex_account("friend2") is None
    assert world.user_for_plex_account("stranger") is None


async def test_ten_thousand_requests_page_quickly() -> None:
    world = OverseerrWorld(seed=2, plex_items=2000, requestable=10_500)
    friend = world.users[2]
    made = 0
    for title in world.catalogue.requestable_only():
        if made == 10_000:
            break
        world.create_request(friend, title.media_type, title.tmdb, "all")
        made += 1
    assert made == 10_000
    async with (
        serve_simulator(world) as sim,
        httpx.AsyncClient(base_url=sim.api_url, headers={"X-Api-Key": sim.api_key}) as client,
    ):
        first = await client.get("/request?take=100&skip=0")
        assert first.json()["pageInfo"] == {
            "pages": 100,
            "pageSize": 100,
            "results": 10_000,
            "page": 1,
        }
        started = time.perf_counter()
        for skip in range(100, 2100, 100):
            page = await client.get(f"/request?take=100&skip={skip}")
            assert len(page.json()["results"]) == 100
        per_page = (time.perf_counter() - started) / 20
        assert per_page < 0.25, f"{per_page * 1000:.0f} ms a page"


@pytest.mark.slow
def test_the_command_serves_and_prints_its_url() -> None:
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "medianest_overseerr.simulator",
            "--port",
            "0",
            "--plex-world-size",
            "100",
            "--api-key",
            "cli-key",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        try:
            assert process.stdout is not None
            url = None
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and url is None:
                line = process.stdout.readline()
                if line.strip().startswith("URL"):
                    url = line.split()[-1]
            assert url is not None and url.startswith("http://127.0.0.1:")

            async def check() -> None:
                async with httpx.AsyncClient(base_url=url) as client:
                    me = await client.get("/api/v1/auth/me", headers={"X-Api-Key": "cli-key"})
                    assert me.status_code == 200 and me.json()["id"] == 1

            asyncio.run(check())
        finally:
            process.terminate()
            process.wait(timeout=20)
    assert process.returncode == 0


def test_the_command_refuses_bad_options() -> None:
    from medianest_overseerr.simulator.__main__ import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--plex-world-size", "-1"])
    args = parse_args(["--port", "0", "--seed", "7"])
    assert (args.port, args.seed, args.plex_world_size) == (0, 7, 1000)


@pytest.mark.slow
async def test_a_world_of_100k_plex_items_starts_in_seconds() -> None:
    started = time.perf_counter()
    async with serve_simulator(plex_items=100_000) as sim:
        elapsed = time.perf_counter() - started
        assert len(sim.world.catalogue.titles) > 40_000
        async with httpx.AsyncClient(
            base_url=sim.api_url, headers={"X-Api-Key": sim.api_key}
        ) as client:
            assert (await client.get("/media?take=1")).json()["pageInfo"]["results"] > 30_000
    assert elapsed < 20, f"{elapsed:.1f} s to build and serve"


@pytest.mark.slow
async def test_a_simulator_in_its_own_process() -> None:
    from medianest_overseerr.simulator import spawn_simulator

    async with spawn_simulator(plex_items=200, api_key="spawned-key") as sim:
        async with httpx.AsyncClient(
            base_url=sim.api_url, headers={"X-Api-Key": "spawned-key"}
        ) as client:
            state = await sim.control.state()
            title = next(
                t
                for t in OverseerrWorld(seed=1, plex_items=200).catalogue.requestable_only()
                if t.media_type == MOVIE
            )
            assert state["titles"]["requestableOnly"] >= 40
            made = await client.post(
                "/request",
                json={"mediaType": "movie", "mediaId": title.tmdb},
                headers={"X-Api-User": "2"},
            )
            assert made.status_code == 201
            assert (await sim.control.approve(made.json()["id"]))["status"] == 2
            assert (await sim.control.available(made.json()["id"]))["media"]["status"] == 5
            await sim.control.slow(150)
            started = time.perf_counter()
            await client.get("/status")
            assert time.perf_counter() - started >= 0.15
            await sim.control.slow(0)
            await sim.control.fail(503, times=1)
            assert (await client.get("/status")).status_code == 503
            await sim.control.down()
            assert (await client.get("/status")).status_code == 503
            await sim.control.up()
            assert (await sim.control.set_quota(2, movieQuotaLimit=1, movieQuotaDays=7))[
                "movieQuotaLimit"
            ] == 1
            assert (await sim.control.add_user(email="z@example.com"))["id"] == 5
            assert await sim.control.webhooks() == []
            await sim.control.reset()
            assert (await sim.control.state())["requests"] == 0


async def test_available_puts_the_title_in_the_served_plex_world() -> None:
    from medianest_plex.simulator import serve_world

    plex = PlexWorld(seed=31, items=150)
    world = OverseerrWorld(plex, requestable=40)
    friend = world.users[2]
    movie = next(t for t in world.catalogue.requestable_only() if t.media_type == MOVIE)
    show = next(
        t
        for t in world.catalogue.requestable_only()
        if t.media_type == TV and len(t.season_numbers()) >= 2
    )
    async with serve_world(plex) as plex_sim, serve_simulator(world) as sim:
        asked = world.create_request(friend, MOVIE, movie.tmdb)
        sim.control.approve(asked.id)
        sim.control.available(asked.id, plex=True)
        item = plex.item(0, int(asked.media.rating_key or 0))
        assert item.ident == movie.ident and external_ids(item).tmdb == movie.tmdb
        assert movie.plex is not None and movie not in list(world.catalogue.requestable_only())
        # the served Plex server lists it, with the same TMDB id in its Guid
        async with httpx.AsyncClient(base_url=plex_sim.url(0)) as client:
            found = await client.get(
                f"/library/metadata/{item.rating_key}",
                headers={"X-Plex-Token": plex.owner.token, "Accept": "application/json"},
            )
        guids = [g["id"] for g in found.json()["MediaContainer"]["Metadata"][0].get("Guid", [])]
        assert f"tmdb://{movie.tmdb}" in guids
        first = world.create_request(friend, TV, show.tmdb, [1])
        sim.control.approve(first.id)
        sim.control.available(first.id, plex=True)
        plex_show = plex.item(0, int(first.media.rating_key or 0))
        assert [s.index for s in plex_show.children or ()] == [1]
        assert int(first.media.status) == 4
        second = world.create_request(friend, TV, show.tmdb, [2])
        sim.control.approve(second.id)
        async with httpx.AsyncClient(base_url=sim.control_url) as control:
            answer = await control.post(
                f"/requests/{second.id}/available", json={"plex": True, "server": 0}
            )
            assert answer.status_code == 200
            bad = await control.post(
                f"/requests/{second.id}/available", json={"plex": True, "server": "nowhere"}
            )
            assert bad.status_code == 404
        assert [s.index for s in plex_show.children or ()] == [1, 2]
        episodes = dict(show.seasons)
        assert [len(s.children or ()) for s in plex_show.children or ()] == [
            episodes[1],
            episodes[2],
        ]
        # without plex=False nothing else changes in Plex
        third = world.create_request(
            friend,
            MOVIE,
            next(t for t in world.catalogue.requestable_only() if t.media_type == MOVIE).tmdb,
        )
        before = len(plex.servers[0].library.items)
        sim.control.available(third.id, plex=False)
        assert len(plex.servers[0].library.items) == before
