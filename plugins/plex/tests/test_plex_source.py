"""PlexMediaSource against simulated Plex Media Servers over real HTTP."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from plex_testkit import add_fault

from medianest.sdk import (
    InvalidInputError,
    MediaItem,
    MediaKind,
    MediaSource,
    NotFoundError,
    SearchQuery,
    SourceCapability,
    UpstreamDataError,
    UpstreamError,
)
from medianest_plex.client import ClientIdentity
from medianest_plex.plugin import PlexRuntime
from medianest_plex.settings import ServerSettings
from medianest_plex.simulator import Agent, Kind, PlexWorld, RunningSimulator
from medianest_plex.simulator.metadata import external_ids
from medianest_plex.source import PlexMediaSource


async def walk(source: PlexMediaSource, limit: int) -> list[MediaItem]:
    items: list[MediaItem] = []
    cursor: str | None = None
    while True:
        page = await source.list_library(cursor, limit)
        assert len(page.items) <= limit
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return items


async def all_changes(source: PlexMediaSource, since: str | None, limit: int = 25) -> Any:
    items: list[MediaItem] = []
    cursor: str | None = None
    while True:
        page = await source.list_changes(since, cursor, limit)
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return items, page.checkpoint


def library_size(world: PlexWorld, server: int) -> int:
    counts = world.describe()["servers"][server]["counts"]
    return sum(counts[k] for k in ("movie", "show", "season", "episode"))


async def test_two_servers_are_two_sources(runtime: PlexRuntime, plex_world: PlexWorld) -> None:
    home, cabin = runtime.sources
    assert (home.id, cabin.id) == ("plex:home", "plex:cabin")
    for source, server in zip(runtime.sources, plex_world.servers, strict=True):
        assert isinstance(source, MediaSource)
        assert source.capabilities == {
            SourceCapability.SEARCH,
            SourceCapability.LIBRARY,
            SourceCapability.CHANGES,
            SourceCapability.COUNT,
            SourceCapability.RECENTLY_ADDED,
            SourceCapability.HEALTH,
            SourceCapability.IMAGES,
        }
        assert await source.machine_identifier() == server.machine_identifier
        status = await source.health()
        assert status.ok and status.latency_ms is not None and "Plex Media Server" in status.detail
    home_items = await walk(home, 100)
    cabin_items = await walk(cabin, 100)
    assert {i.ref.source for i in home_items} == {"plex:home"}
    assert {i.ref.source for i in cabin_items} == {"plex:cabin"}


@pytest.mark.parametrize("limit", [7, 100])
async def test_library_walk_reaches_the_end_and_matches_total_size(
    home: PlexMediaSource, plex_world: PlexWorld, limit: int
) -> None:
    expected = library_size(plex_world, 0)
    first = await home.list_library(None, limit)
    assert first.total == expected
    items = await walk(home, limit)
    keys = [i.ref.item_id for i in items]
    assert len(keys) == len(set(keys)) == expected
    assert await home.count() == expected
    kinds = {i.kind for i in items}
    assert kinds == {MediaKind.MOVIE, MediaKind.SHOW, MediaKind.SEASON, MediaKind.EPISODE}


async def test_walk_resumes_from_its_cursor_after_a_failure(
    home: PlexMediaSource, control: httpx.AsyncClient, plex_world: PlexWorld
) -> None:
    first = await home.list_library(None, 30)
    await add_fault(control, mode="error", path="/library/sections/*/all", status=500, times=1)
    with pytest.raises(UpstreamError):
        await home.list_library(first.next_cursor, 30)
    rest = await walk_from(home, first.next_cursor, 30)
    keys = [i.ref.item_id for i in first.items + rest]
    assert len(keys) == len(set(keys)) == library_size(plex_world, 0)


async def walk_from(source: PlexMediaSource, cursor: str | None, limit: int) -> list[MediaItem]:
    items: list[MediaItem] = []
    while cursor is not None:
        page = await source.list_library(cursor, limit)
        items.extend(page.items)
        cursor = page.next_cursor
    return items


async def test_changes_since_a_checkpoint(
    home: PlexMediaSource, control: httpx.AsyncClient, plex_world: PlexWorld
) -> None:
    everything, checkpoint = await all_changes(home, None, limit=50)
    assert len({i.ref.item_id for i in everything}) == library_size(plex_world, 0)

    quiet, _ = await all_changes(home, checkpoint)
    assert len(quiet) < 10, "only the overlap window repeats"

    old_movie = next(i for i in everything if i.kind == MediaKind.MOVIE)
    show = next(i for i in everything if i.kind == MediaKind.SHOW)
    added = (await control.post("/servers/home/items", json={"type": "movie"})).json()
    episode = (
        await control.post(
            "/servers/home/items", json={"type": "episode", "parent": show.ref.item_id}
        )
    ).json()
    changed = await control.patch(
        f"/servers/home/items/{old_movie.ref.item_id}", json={"title": "A New Title"}
    )
    assert changed.status_code == 200

    changes, newer = await all_changes(home, checkpoint, limit=2)
    by_key = {i.ref.item_id: i for i in changes}
    assert added["ratingKey"] in by_key
    assert episode["ratingKey"] in by_key
    assert by_key[old_movie.ref.item_id].title == "A New Title"
    assert show.ref.item_id in by_key, "a new episode touches its show"
    assert newer != checkpoint

    await control.post("/clock", json={"advance": 3600})
    later = (await control.post("/servers/home/items", json={"type": "movie"})).json()
    changes, newest = await all_changes(home, newer)
    assert later["ratingKey"] in {i.ref.item_id for i in changes}
    changes, _ = await all_changes(home, newest)
    assert {i.ref.item_id for i in changes} == {later["ratingKey"]}, "older changes dropped out"


async def test_foreign_cursors_and_checkpoints_are_refused(home: PlexMediaSource) -> None:
    with pytest.raises(InvalidInputError) as caught:
        await home.list_library("not-a-cursor", 5)
    assert caught.value.field == "cursor"
    library_cursor = (await home.list_library(None, 5)).next_cursor
    with pytest.raises(InvalidInputError):
        await home.list_changes(None, library_cursor, 5)
    with pytest.raises(InvalidInputError) as caught:
        await home.list_changes(library_cursor, None, 5)
    assert caught.value.field == "since"
    with pytest.raises(InvalidInputError):
        await home.list_library(None, 0)


async def test_items_keep_their_external_ids(
    home: PlexMediaSource, plex_world: PlexWorld, control: httpx.AsyncClient
) -> None:
    legacy_show = {"type": "show", "agent": "legacy", "seasons": 1, "episodes": 2}
    assert (await control.post("/servers/home/items", json=legacy_show)).status_code == 201
    items = await walk(home, 100)
    checked = {"legacy_movie": 0, "legacy_episode": 0, "no_tmdb": 0, "local": 0}
    for item in items:
        sim_item = plex_world.item("home", item.ref.item_id)
        truth = external_ids(sim_item)
        if sim_item.agent == Agent.MODERN:
            assert (item.ids.imdb, item.ids.tmdb, item.ids.tvdb) == (
                truth.imdb,
                truth.tmdb,
                truth.tvdb,
            )
            if truth.tmdb is None and (truth.imdb or truth.tvdb):
                checked["no_tmdb"] += 1
        elif sim_item.agent == Agent.LOCAL:
            assert item.ids.is_empty()
            checked["local"] += 1
        elif sim_item.kind == Kind.MOVIE:
            assert not item.ids.is_empty()
            assert item.ids.imdb in (None, truth.imdb) and item.ids.tmdb in (None, truth.tmdb)
            checked["legacy_movie"] += 1
        elif sim_item.kind == Kind.EPISODE:
            show = sim_item.show
            assert show is not None
            assert item.ids.is_empty()
            assert item.extra["show_ids"] == {"tvdb": external_ids(show).tvdb}
            checked["legacy_episode"] += 1
    assert all(checked.values()), checked


async def test_recently_added_is_newest_first(
    home: PlexMediaSource, control: httpx.AsyncClient
) -> None:
    added = (await control.post("/servers/home/items", json={"type": "movie"})).json()
    items = await home.recently_added(5)
    assert len(items) == 5
    assert items[0].ref.item_id == added["ratingKey"]
    times = [i.added_at for i in items]
    assert times == sorted(times, reverse=True)  # type: ignore[type-var]


async def test_get_item(home: PlexMediaSource) -> None:
    listed = (await home.list_library(None, 1)).items[0]
    item = await home.get_item(listed.ref.item_id)
    assert item.ref == listed.ref and item.title == listed.title and item.ids == listed.ids
    with pytest.raises(NotFoundError, match="plex:home has no item 99999999"):
        await home.get_item("99999999")
    with pytest.raises(NotFoundError):
        await home.get_item("../identity")


async def test_live_search(home: PlexMediaSource, plex_world: PlexWorld) -> None:
    movie = plex_world.servers[0].library.of_kind(1, Kind.MOVIE)[0]
    found = await home.search(SearchQuery(text=movie.title, limit=10))
    assert str(movie.rating_key) in [i.ref.item_id for i in found]
    only_shows = await home.search(
        SearchQuery(text=movie.title, kinds=frozenset({MediaKind.SHOW}), limit=10)
    )
    assert all(i.kind == MediaKind.SHOW for i in only_shows)
    assert await home.search(SearchQuery(text="zzzz-nothing-like-this", limit=5)) == []


async def test_health_reports_trouble_quickly(
    home: PlexMediaSource, control: httpx.AsyncClient
) -> None:
    await add_fault(control, mode="error", path="/identity", status=500, times=1)
    status = await home.health()
    assert not status.ok and "HTTP 500" in status.detail
    await add_fault(control, mode="hang", path="/identity")
    status = await home.health()
    assert not status.ok and "did not answer" in status.detail


async def test_health_notices_a_different_server(plex_sim: RunningSimulator) -> None:
    server = ServerSettings(
        name="home",
        url=plex_sim.url("home"),
        token=plex_sim.world.owner.token,
        machine_identifier="not-this-server",
    )
    source = PlexMediaSource(
        server, identity=ClientIdentity("t", "MediaNest"), page_size=10, overlap_seconds=0
    )
    try:
        status = await source.health()
    finally:
        await source.aclose()
    assert not status.ok and "expected not-this-server" in status.detail


def fake_pms(items: list[Any]) -> httpx.MockTransport:
    """A PMS with one movie section whose listing holds ``items`` (some may be broken)."""

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/library/sections":
            body: dict[str, Any] = {"Directory": [{"key": "1", "type": "movie", "title": "M"}]}
        elif path == "/library/sections/1/all":
            start = int(request.headers.get("X-Plex-Container-Start", "0"))
            size = int(request.headers.get("X-Plex-Container-Size", "50"))
            body = {
                "totalSize": len(items),
                "offset": start,
                "Metadata": items[start : start + size],
            }
        elif path == "/library/metadata/2":
            body = {"Metadata": [items[1]]}
        else:
            return httpx.Response(404)
        return httpx.Response(200, content=json.dumps({"MediaContainer": body}).encode())

    return httpx.MockTransport(handle)


async def test_a_malformed_item_is_skipped_in_lists_and_refused_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    items = [
        {"ratingKey": "1", "type": "movie", "title": "Fine"},
        {"ratingKey": "2", "type": "movie", "title": "Broken", "addedAt": "yesterday"},
        {"ratingKey": "3", "type": "movie", "title": "Also fine"},
    ]
    server = ServerSettings(name="fake", url="http://pms.invalid:32400", token="t0ken")
    source = PlexMediaSource(
        server,
        identity=ClientIdentity("t", "MediaNest"),
        page_size=50,
        overlap_seconds=0,
        transport=fake_pms(items),
    )
    try:
        with caplog.at_level(logging.WARNING, logger="medianest_plex"):
            page = await source.list_library(None, 10)
        assert [i.ref.item_id for i in page.items] == ["1", "3"]
        assert page.next_cursor is None
        assert "Plex item 2 of plex:fake" in caplog.text
        with pytest.raises(UpstreamDataError, match="Plex item 2 of plex:fake"):
            await source.get_item("2")
    finally:
        await source.aclose()
