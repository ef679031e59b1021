"""``GET /api/v1/media/{source}/{item_id}``: an item with its children, parent and copies in
other sources, from the catalogue or asked of a live source, in both runtime modes."""

from __future__ import annotations

from collections import defaultdict

import pytest

from medianest.core.media import reads
from medianest.sdk.access import Permission
from medianest.sdk.testing import RunningHub
from tests.media.conftest import (
    LIVE_TIMEOUT,
    MEDIA,
    LiveSource,
    fields_of,
    live_video,
    problem_of,
    rows,
)


async def details(running: RunningHub, headers: dict, source: str, item_id: str) -> dict:
    response = await running.client.get(f"{MEDIA}/{source}/{item_id}", headers=headers)
    body = await response.get_json()
    assert response.status_code == 200, body
    return body


async def shared_films() -> list[tuple[str, str]]:
    """Item ids of films held by both servers (the same IMDb id): ``(home's, cabin's)``."""
    by_imdb: dict[str, dict[str, str]] = defaultdict(dict)
    for row in await rows(kind="movie", imdb__not_isnull=True):
        by_imdb[row.imdb][row.source] = row.item_id
    pairs = [
        (held["plex:home"], held["plex:cabin"])
        for held in by_imdb.values()
        if {"plex:home", "plex:cabin"} <= held.keys()
    ]
    assert pairs, "the simulated servers share no film"
    return pairs


async def test_a_show_lists_its_seasons_in_order(synced: RunningHub, reader: dict) -> None:
    [show, *_] = await rows(source="plex:home", kind="show")
    seasons = await rows(source="plex:home", parent_id=show.item_id)

    body = await details(synced, reader, "plex:home", show.item_id)

    item = body["item"]
    assert (item["source"], item["item_id"], item["kind"]) == ("plex:home", show.item_id, "show")
    assert item["title"] == show.title and item["year"] == show.year
    assert item["ids"]["imdb"] == show.imdb and item["ids"]["tvdb"] == show.tvdb
    assert [c["item_id"] for c in body["children"]] == [
        s.item_id for s in sorted(seasons, key=lambda s: (s.number, s.title.lower(), s.id))
    ]
    assert {c["kind"] for c in body["children"]} == {"season"}
    assert [c["index"] for c in body["children"]] == sorted(c["index"] for c in body["children"])
    assert body["children_total"] == len(seasons) > 0
    assert body["parent"] is None
    assert body["available"] is True
    assert body["overrides"] is None


async def test_a_season_lists_its_episodes_and_names_its_show(
    synced: RunningHub, reader: dict
) -> None:
    [season, *_] = await rows(source="plex:cabin", kind="season")
    episodes = await rows(source="plex:cabin", parent_id=season.item_id)

    body = await details(synced, reader, "plex:cabin", season.item_id)

    assert [c["item_id"] for c in body["children"]] == [
        e.item_id for e in sorted(episodes, key=lambda e: (e.number, e.title.lower(), e.id))
    ]
    assert [c["index"] for c in body["children"]] == sorted(e.number for e in episodes)
    assert body["children_total"] == len(episodes) > 0
    assert body["parent"]["item_id"] == season.parent_id
    assert body["parent"]["kind"] == "show"
    assert body["item"]["parent"] == {"source": "plex:cabin", "item_id": season.parent_id}


async def test_an_episode_names_its_season(synced: RunningHub, reader: dict) -> None:
    [episode, *_] = await rows(source="plex:home", kind="episode")

    body = await details(synced, reader, "plex:home", episode.item_id)

    assert body["item"]["kind"] == "episode"
    assert body["item"]["index"] == episode.number
    assert body["children"] == [] and body["children_total"] == 0
    assert body["parent"]["item_id"] == episode.parent_id
    assert body["parent"]["kind"] == "season"


async def test_children_stop_at_the_cap_and_are_all_counted(
    synced: RunningHub, reader: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    [season, *_] = await rows(source="plex:home", kind="season")
    episodes = await rows(source="plex:home", parent_id=season.item_id)
    assert len(episodes) > 2
    monkeypatch.setattr(reads, "MAX_CHILDREN", 2)

    body = await details(synced, reader, "plex:home", season.item_id)

    assert len(body["children"]) == 2
    assert body["children_total"] == len(episodes)


async def test_copies_are_the_same_film_on_the_other_server(
    synced: RunningHub, reader: dict
) -> None:
    home_id, cabin_id = (await shared_films())[0]

    home = await details(synced, reader, "plex:home", home_id)
    cabin = await details(synced, reader, "plex:cabin", cabin_id)

    assert [(c["source"], c["item_id"]) for c in home["copies"]] == [("plex:cabin", cabin_id)]
    assert [(c["source"], c["item_id"]) for c in cabin["copies"]] == [("plex:home", home_id)]
    assert home["copies"][0]["ids"]["imdb"] == home["item"]["ids"]["imdb"]
    assert home["available"] is cabin["available"] is True


async def test_a_film_only_one_server_has_has_no_copies(synced: RunningHub, reader: dict) -> None:
    shared = {home for home, _ in await shared_films()}
    alone = next(r for r in await rows(source="plex:home", kind="movie") if r.item_id not in shared)

    body = await details(synced, reader, "plex:home", alone.item_id)

    assert body["copies"] == []
    assert body["available"] is True


async def test_an_item_of_a_live_source_is_asked_of_it_with_its_copies(
    synced: RunningHub, reader: dict, live_source: LiveSource
) -> None:
    home_id, cabin_id = (await shared_films())[0]
    [film] = await rows(source="plex:home", item_id=home_id)
    live_source.items["trailer"] = live_video("trailer", imdb=film.imdb, title="The trailer")
    live_source.items["lonely"] = live_video("lonely", imdb="tt0000001")

    body = await details(synced, reader, "live", "trailer")

    assert body["item"]["title"] == "The trailer"
    assert body["item"]["url"] == "https://live.test/trailer"
    assert {(c["source"], c["item_id"]) for c in body["copies"]} == {
        ("plex:home", home_id),
        ("plex:cabin", cabin_id),
    }
    assert body["available"] is True
    assert body["children"] == [] and body["parent"] is None and body["overrides"] is None

    lonely = await details(synced, reader, "live", "lonely")
    assert lonely["copies"] == [] and lonely["available"] is False


@pytest.mark.parametrize(
    ("item_id", "status", "code"),
    [
        ("missing", 404, "not_found"),
        ("slow", 504, "upstream_timeout"),
        ("failing", 502, "upstream_error"),
        ("buggy", 502, "upstream_error"),
        ("junk", 502, "upstream_bad_data"),
        ("stranger", 502, "upstream_bad_data"),
    ],
)
async def test_a_live_source_failing_is_a_problem_naming_it(
    synced: RunningHub, reader: dict, item_id: str, status: int, code: str
) -> None:
    response = await synced.client.get(f"{MEDIA}/live/{item_id}", headers=reader)

    problem = await problem_of(response, status)
    assert problem["code"] == code
    assert "live" in problem["detail"]
    if status != 404:
        assert problem["source"] == "live"
    if item_id == "slow":
        assert f"{LIVE_TIMEOUT:g} s" in problem["detail"]


async def test_unknown_sources_and_items_are_404s(synced: RunningHub, reader: dict) -> None:
    cases = {
        f"{MEDIA}/plex:attic/1": "plex:attic",
        f"{MEDIA}/plex:home/999999": "999999",
        f"{MEDIA}/plex:home/not-a-key": "not-a-key",
        f"{MEDIA}/plex:home/nul%00byte": "nul",
        f"{MEDIA}/shelf/{'9' * 300}": "shelf",
    }
    for url, named in cases.items():
        problem = await problem_of(await synced.client.get(url, headers=reader), 404)
        assert named in problem["detail"], url


async def test_details_need_the_search_permission(synced: RunningHub) -> None:
    [film, *_] = await rows(source="plex:home", kind="movie")
    url = f"{MEDIA}/plex:home/{film.item_id}"

    assert (await synced.client.get(url)).status_code == 401
    bare = await synced.sign_in(permissions=[])
    problem = await problem_of(await synced.client.get(url, headers=bare), 403)
    assert problem["permission"] == Permission.SEARCH
    assert (await synced.client.get(url, headers=await synced.sign_in())).status_code == 200
    assert fields_of(problem) == set()
