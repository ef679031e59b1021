"""python-plexapi, a real Plex client, driving the simulator the way a user's script would.

plexapi is synchronous (requests), so each scenario runs in a worker thread while the
simulator serves on the test's event loop. Its plex.tv addresses are class constants; the
tests point them at the simulated plex.tv and change nothing else of plexapi.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

import httpx
import pytest
from openapi_core import OpenAPI
from plex_sim_specs import validate
from plexapi.exceptions import NotFound, Unauthorized
from plexapi.myplex import MyPlexAccount, MyPlexPinLogin, MyPlexResource
from plexapi.server import PlexServer

from medianest_plex.simulator import Kind, PlexWorld, RunningSimulator

T = TypeVar("T")


async def in_thread(work: Callable[[], T]) -> T:
    """Run blocking plexapi calls off the event loop the simulator serves on."""
    return await asyncio.to_thread(work)


@pytest.fixture
def world() -> PlexWorld:
    """One server of 300 leaves: plexapi walks whole sections."""
    return PlexWorld(seed=11, items=300, servers=1)


@pytest.fixture
def plextv_at_simulator(sim: RunningSimulator) -> Iterator[None]:
    """plexapi's plex.tv endpoints, pointed at the simulated plex.tv for the test."""
    base = f"{sim.plextv_url}/api/v2"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(MyPlexAccount, "key", f"{base}/user")
        patch.setattr(MyPlexPinLogin, "PINS", f"{base}/pins")
        patch.setattr(MyPlexResource, "key", f"{base}/resources?includeHttps=1&includeRelay=1")
        yield


def connect(sim: RunningSimulator, token: str | None = None) -> PlexServer:
    return PlexServer(sim.url(0), token or sim.world.owner.token, timeout=10)


def epoch(moment: datetime | None) -> int:
    assert moment is not None
    return int(moment.timestamp())


async def test_the_server_identifies_itself(sim: RunningSimulator) -> None:
    server = sim.world.servers[0]
    plex = await in_thread(lambda: connect(sim))
    assert plex.friendlyName == server.name
    assert plex.machineIdentifier == server.machine_identifier
    assert plex.version == server.version


async def test_a_wrong_token_is_refused(sim: RunningSimulator) -> None:
    with pytest.raises(Unauthorized):
        await in_thread(lambda: connect(sim, "not-a-token"))


async def test_library_sections_are_the_servers(sim: RunningSimulator) -> None:
    library = sim.world.servers[0].library

    def read() -> list[tuple[str, str, int, int]]:
        plex = connect(sim)
        return [(s.title, s.type, int(s.key), s.totalSize) for s in plex.library.sections()]

    expected = [
        (s.title, s.type_label, s.key, library.count(s.key, s.type))
        for s in library.sections.values()
    ]
    assert await in_thread(read) == expected


def _movies(sim: RunningSimulator) -> tuple[int, list[Any]]:
    library = sim.world.servers[0].library
    section = next(s for s in library.sections.values() if s.type == Kind.MOVIE)
    return section.key, library.of_kind(section.key, Kind.MOVIE)


async def test_search_with_a_filter_and_a_sort(sim: RunningSimulator) -> None:
    key, movies = _movies(sim)
    years = sorted({m.year for m in movies})
    pivot = years[len(years) // 2]

    def search() -> list[tuple[str, int, int]]:
        section = connect(sim).library.sectionByID(key)
        found = section.search(filters={"year>>": pivot}, sort="addedAt:desc")
        return [(m.ratingKey, m.year, epoch(m.addedAt)) for m in found]

    got = await in_thread(search)
    newer = sorted(
        (m for m in movies if m.year > pivot),
        key=lambda m: (m.added_at, m.rating_key),
        reverse=True,
    )
    assert [rating_key for rating_key, _, _ in got] == [m.rating_key for m in newer]
    assert got and all(year > pivot for _, year, _ in got)
    added = [moment for _, _, moment in got]
    assert added == sorted(added, reverse=True)


async def test_search_by_year_title_and_a_page_of_results(sim: RunningSimulator) -> None:
    key, movies = _movies(sim)
    year = movies[0].year
    word = movies[0].title.split()[-1]

    def search() -> tuple[set[int], list[str], list[str]]:
        section = connect(sim).library.sectionByID(key)
        by_year = {m.ratingKey for m in section.search(year=year)}
        by_title = [m.title for m in section.search(title=word)]
        first = [m.title for m in section.search(sort="titleSort", maxresults=5)]
        return by_year, by_title, first

    by_year, by_title, first = await in_thread(search)
    assert by_year == {m.rating_key for m in movies if m.year == year}
    assert by_title and all(word.lower() in title.lower() for title in by_title)
    assert first == [m.title for m in sorted(movies, key=lambda m: m.title_sort)[:5]]


async def test_an_unknown_filter_is_refused_by_the_client_from_the_servers_meta(
    sim: RunningSimulator,
) -> None:
    key, _ = _movies(sim)

    def search() -> None:
        connect(sim).library.sectionByID(key).search(filters={"studio": "Nowhere"})

    with pytest.raises(NotFound, match="Unknown filter field"):
        await in_thread(search)


async def test_fetching_an_item_by_rating_key_and_by_key(sim: RunningSimulator) -> None:
    _, movies = _movies(sim)
    movie = movies[0]

    def fetch() -> tuple[str, int, str, set[str]]:
        plex = connect(sim)
        by_number = plex.fetchItem(movie.rating_key)
        by_key = plex.fetchItem(f"/library/metadata/{movie.rating_key}")
        return by_number.title, by_number.year, by_key.title, {g.id for g in by_key.guids}

    title, year, same_title, guids = await in_thread(fetch)
    assert (title, year, same_title) == (movie.title, movie.year, movie.title)
    assert any(g.startswith("imdb://") for g in guids)


async def test_a_missing_item_is_not_found(sim: RunningSimulator) -> None:
    with pytest.raises(NotFound):
        await in_thread(lambda: connect(sim).fetchItem(987654321))


async def test_show_seasons_and_episodes(sim: RunningSimulator) -> None:
    library = sim.world.servers[0].library
    section = next(s for s in library.sections.values() if s.type == Kind.SHOW)
    show = library.of_kind(section.key, Kind.SHOW)[0]
    seasons = show.children or []

    def walk() -> tuple[list[int], list[tuple[int, int, str]], str, list[str]]:
        plex_show = connect(sim).fetchItem(show.rating_key)
        plex_seasons = plex_show.seasons()
        episodes = [(e.seasonNumber, e.index, e.title) for e in plex_show.episodes()]
        first = plex_show.episode(season=seasons[0].index, episode=1).title
        of_season = [e.title for e in plex_seasons[0].episodes()]
        return [s.index for s in plex_seasons], episodes, first, of_season

    season_numbers, episodes, first, of_season = await in_thread(walk)
    assert season_numbers == [s.index for s in seasons]
    assert episodes == [(s.index, e.index, e.title) for s in seasons for e in s.children or []]
    assert first == next(e.title for e in seasons[0].children or [] if e.index == 1)
    assert of_season == [e.title for e in seasons[0].children or []]


async def test_recently_added_is_newest_first(sim: RunningSimulator) -> None:
    key, movies = _movies(sim)

    def recent() -> tuple[list[int], list[int]]:
        plex = connect(sim)
        everywhere = [epoch(i.addedAt) for i in plex.library.recentlyAdded()]
        in_movies = [m.ratingKey for m in plex.library.sectionByID(key).recentlyAdded(5)]
        return everywhere, in_movies

    everywhere, in_movies = await in_thread(recent)
    assert everywhere and everywhere == sorted(everywhere, reverse=True)
    newest = sorted(movies, key=lambda m: (m.added_at, m.rating_key), reverse=True)[:5]
    assert in_movies == [m.rating_key for m in newest]


async def test_sessions_name_the_viewers_and_players(sim: RunningSimulator) -> None:
    server = sim.world.servers[0]
    expected = {
        (s.item.title, sim.world.account(s.account_key).username, s.player.title)
        for s in server.activity.sessions
    }

    def sessions() -> set[tuple[str, str, str]]:
        return {(s.title, s.usernames[0], s.players[0].title) for s in connect(sim).sessions()}

    assert expected and await in_thread(sessions) == expected


async def test_history_is_newest_first(sim: RunningSimulator) -> None:
    server = sim.world.servers[0]
    newest = sorted(server.activity.history, key=lambda r: r.viewed_at, reverse=True)[:10]

    def history() -> list[tuple[str, int]]:
        return [(h.title, epoch(h.viewedAt)) for h in connect(sim).history(maxresults=10)]

    assert await in_thread(history) == [(r.title, r.viewed_at) for r in newest]


async def test_the_account_and_its_servers(
    sim: RunningSimulator, plextv_at_simulator: None
) -> None:
    owner = sim.world.owner
    server = sim.world.servers[0]

    def account() -> tuple[int, str, str, bool, list[str], str]:
        me = MyPlexAccount(token=owner.token)
        servers = [r.clientIdentifier for r in me.resources() if "server" in r.provides]
        via_plextv = me.resource(server.name).connect()
        return (
            me.id,
            me.username,
            me.email,
            me.subscriptionActive,
            servers,
            via_plextv.machineIdentifier,
        )

    got = await in_thread(account)
    assert got == (
        owner.id,
        owner.username,
        owner.email,
        True,
        [server.machine_identifier],
        server.machine_identifier,
    )


async def test_an_unknown_token_is_refused_by_plextv(
    sim: RunningSimulator, plextv_at_simulator: None
) -> None:
    with pytest.raises(Unauthorized):
        await in_thread(lambda: MyPlexAccount(token="not-a-token"))


async def test_pin_sign_in(sim: RunningSimulator, plextv_at_simulator: None) -> None:
    login = MyPlexPinLogin()
    code = await in_thread(lambda: login.pin)
    assert code and len(code) == 4
    assert await in_thread(login.checkLogin) is False
    friend = sim.world.account("friend1")
    async with httpx.AsyncClient(base_url=sim.control_url, timeout=10) as control:
        pins = (await control.get("/pins")).json()
        pin = next(p for p in pins if p["code"] == code)
        approved = await control.post(f"/pins/{pin['id']}/approve", json={"account": "friend1"})
        assert approved.status_code == 200, approved.text
    assert await in_thread(login.checkLogin) is True
    assert login.token == friend.token
    me = await in_thread(lambda: MyPlexAccount(token=login.token))
    assert (me.id, me.username) == (friend.id, friend.username)


async def test_the_routes_plexapi_needs_answer_as_documented(
    sim: RunningSimulator, pms: httpx.AsyncClient, community_spec: OpenAPI, pms_spec: OpenAPI
) -> None:
    root = await pms.get("/library")
    assert root.status_code == 200
    validate(community_spec, root)
    assert [d["key"] for d in root.json()["MediaContainer"]["Directory"]] == [
        "sections",
        "recentlyAdded",
        "onDeck",
    ]
    library = sim.world.servers[0].library
    show_section = next(s for s in library.sections.values() if s.type == Kind.SHOW)
    show = library.of_kind(show_section.key, Kind.SHOW)[0]
    leaves = await pms.get(f"/library/metadata/{show.rating_key}/allLeaves")
    assert leaves.status_code == 200
    validate(community_spec, leaves)
    episodes = leaves.json()["MediaContainer"]["Metadata"]
    assert {e["type"] for e in episodes} == {"episode"}
    assert len(episodes) == sum(len(s.children or []) for s in show.children or [])
    listing = await pms.get(
        f"/library/sections/{show_section.key}/all",
        params={"includeMeta": 1, "type": 4, "sort": "episode.addedAt:desc"},
        headers={"X-Plex-Container-Start": "0", "X-Plex-Container-Size": "3"},
    )
    assert listing.status_code == 200
    validate(pms_spec, listing)
    meta = listing.json()["MediaContainer"]["Meta"]
    assert [t["type"] for t in meta["Type"]] == ["show", "season", "episode"]
    assert {f["type"] for f in meta["FieldType"]} == {"string", "integer", "date"}
    added = [e["addedAt"] for e in listing.json()["MediaContainer"]["Metadata"]]
    assert added == sorted(added, reverse=True)
