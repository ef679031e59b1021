"""The world itself: determinism, data shape and the 100,000-item scale."""

from __future__ import annotations

import time

import httpx
import pytest
from plex_sim_support import JSON

from medianest_plex.simulator import Agent, Kind, PlexWorld, serve_world
from medianest_plex.simulator.generate import LibraryPlan
from medianest_plex.simulator.metadata import external_ids


def snapshot(world: PlexWorld) -> list[tuple]:
    return [
        (srv.machine_identifier, i.rating_key, i.title, i.added_at, i.agent)
        for srv in world.servers
        for i in srv.library.items.values()
    ]


def test_same_seed_same_world_other_seed_other_world() -> None:
    one, two = PlexWorld(seed=3, items=200, servers=2), PlexWorld(seed=3, items=200, servers=2)
    assert snapshot(one) == snapshot(two)
    assert {k: a.token for k, a in one.accounts.items()} == {
        k: a.token for k, a in two.accounts.items()
    }
    assert snapshot(PlexWorld(seed=4, items=200, servers=2)) != snapshot(one)


def test_item_split_and_hierarchy() -> None:
    world = PlexWorld(items=1000)
    lib = world.servers[0].library
    assert LibraryPlan.for_items(1000) == LibraryPlan(movies=400, episodes=600)
    assert lib.count(1, Kind.MOVIE) == 400 and lib.count(2, Kind.EPISODE) == 600
    for show in lib.of_kind(2, Kind.SHOW):
        assert show.children and all(s.parent is show for s in show.children)
    assert {i.agent for i in lib.items.values()} == set(Agent)


def test_rating_keys_grow_with_added_at() -> None:
    lib = PlexWorld(items=500).servers[0].library
    movies = lib.of_kind(1, Kind.MOVIE)
    assert movies == sorted(movies, key=lambda m: m.added_at)


def test_second_server_shares_some_works_with_the_first() -> None:
    world = PlexWorld(items=600, servers=2)
    home = {m.ident for m in world.servers[0].library.of_kind(1, Kind.MOVIE)}
    cabin = world.servers[1].library.of_kind(1, Kind.MOVIE)
    shared = [m for m in cabin if m.ident in home]
    assert 0 < len(shared) < len(cabin)
    twin = next(
        m for m in world.servers[0].library.of_kind(1, Kind.MOVIE) if m.ident == shared[0].ident
    )
    assert external_ids(twin) == external_ids(shared[0]) and twin.title == shared[0].title


def test_some_works_have_no_tmdb_id() -> None:
    movies = PlexWorld(items=1000).servers[0].library.of_kind(1, Kind.MOVIE)
    assert any(external_ids(m).tmdb is None for m in movies)
    assert any(external_ids(m).tmdb is not None for m in movies)


def test_world_methods_report_unknown_things() -> None:
    world = PlexWorld(items=10)
    with pytest.raises(LookupError):
        world.server("nowhere")
    with pytest.raises(LookupError):
        world.account("nobody")
    with pytest.raises(LookupError):
        world.item(0, 424242)
    with pytest.raises(ValueError):
        world.advance_clock(-1)


async def test_100k_items_start_fast_and_serve_the_last_page() -> None:
    started = time.perf_counter()
    world = PlexWorld(seed=11, items=100_000)
    build_seconds = time.perf_counter() - started
    print(f"built 100,000 items in {build_seconds:.2f}s")
    lib = world.servers[0].library
    assert lib.count(1, Kind.MOVIE) == 40_000 and lib.count(2, Kind.EPISODE) == 60_000
    async with (
        serve_world(world) as sim,
        httpx.AsyncClient(
            base_url=sim.url(0), timeout=30, headers={**JSON, "X-Plex-Token": world.owner.token}
        ) as client,
    ):
        pages: dict[int, list[list[str]]] = {}
        for start in (0, 59_950, 0, 59_950):
            response = await client.get(
                "/library/sections/2/all",
                params={"type": 4},
                headers={"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": "50"},
            )
            body = response.json()["MediaContainer"]
            assert body["totalSize"] == 60_000 and body["size"] == 50
            pages.setdefault(start, []).append([m["ratingKey"] for m in body["Metadata"]])
        assert pages[0][0] == pages[0][1] and pages[59_950][0] == pages[59_950][1]
        assert not set(pages[0][0]) & set(pages[59_950][0])
        last = await client.get(
            "/library/sections/1/all",
            params={
                "sort": "addedAt:desc",
                "X-Plex-Container-Start": 39_999,
                "X-Plex-Container-Size": 10,
            },
        )
        assert last.json()["MediaContainer"]["size"] == 1
        count = await client.get(
            "/library/sections/1/all",
            params={"addedAt>>": world.anchor - 86400 * 365},
            headers={"X-Plex-Container-Size": "0"},
        )
        assert 0 < count.json()["MediaContainer"]["totalSize"] < 40_000
