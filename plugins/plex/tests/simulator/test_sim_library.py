"""PMS library routes: sections, paging, guids, filters, sorts, metadata and children."""

from __future__ import annotations

import httpx
import pytest
from lxml import etree
from openapi_core import OpenAPI
from plex_sim_specs import validate
from plex_sim_support import JSON

from medianest_plex.simulator import Agent, Kind, RunningSimulator


def container(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text[:300]
    return response.json()["MediaContainer"]


async def test_identity_needs_no_token(
    sim: RunningSimulator, http: httpx.AsyncClient, pms_spec: OpenAPI
) -> None:
    response = await http.get(f"{sim.url(0)}/identity", headers=JSON)
    validate(pms_spec, response)
    body = container(response)
    assert body["machineIdentifier"] == sim.world.servers[0].machine_identifier
    assert body["claimed"] is True


async def test_root_describes_the_server(
    pms: httpx.AsyncClient, sim: RunningSimulator, pms_spec: OpenAPI
) -> None:
    response = await pms.get("/")
    validate(pms_spec, response)
    body = container(response)
    assert body["friendlyName"] == "Home" and body["myPlexUsername"] == sim.world.owner.email


@pytest.mark.parametrize("token", [None, "wrong-token"])
async def test_library_needs_an_accepted_token(
    sim: RunningSimulator, http: httpx.AsyncClient, token: str | None
) -> None:
    headers = {**JSON, **({"X-Plex-Token": token} if token else {})}
    response = await http.get(f"{sim.url(0)}/library/sections", headers=headers)
    assert response.status_code == 401


async def test_token_may_come_as_query_parameter(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    response = await http.get(
        f"{sim.url(0)}/library/sections",
        params={"X-Plex-Token": sim.world.owner.token},
        headers=JSON,
    )
    assert response.status_code == 200


async def test_sections_list_movies_and_shows(pms: httpx.AsyncClient, pms_spec: OpenAPI) -> None:
    response = await pms.get("/library/sections")
    validate(pms_spec, response, as_path="/library/sections/all")
    directories = container(response)["Directory"]
    assert [(d["key"], d["type"], d["title"]) for d in directories] == [
        ("1", "movie", "Movies"),
        ("2", "show", "TV Shows"),
    ]


async def test_friend_with_one_shared_library_sees_only_it(
    sim: RunningSimulator, pms: httpx.AsyncClient
) -> None:
    token = sim.world.servers[0].shares["friend2"].token
    headers = {"X-Plex-Token": token}
    sections = container(await pms.get("/library/sections", headers=headers))["Directory"]
    assert [d["key"] for d in sections] == ["1"]
    assert (await pms.get("/library/sections/2/all", headers=headers)).status_code == 404
    show = sim.world.servers[0].library.of_kind(2, Kind.SHOW)[0]
    hidden = await pms.get(f"/library/metadata/{show.rating_key}", headers=headers)
    assert hidden.status_code == 404


async def test_paging_by_headers(
    pms: httpx.AsyncClient, sim: RunningSimulator, pms_spec: OpenAPI
) -> None:
    response = await pms.get(
        "/library/sections/1/all",
        headers={"X-Plex-Container-Start": "10", "X-Plex-Container-Size": "5"},
    )
    validate(pms_spec, response)
    body = container(response)
    movies = sim.world.servers[0].library.count(1, Kind.MOVIE)
    assert (body["size"], body["totalSize"], body["offset"]) == (5, movies, 10)
    assert response.headers["X-Plex-Container-Start"] == "10"
    assert response.headers["X-Plex-Container-Total-Size"] == str(movies)
    assert all(isinstance(m["ratingKey"], str) for m in body["Metadata"])


async def test_paging_by_query_matches_paging_by_headers(pms: httpx.AsyncClient) -> None:
    by_query = container(
        await pms.get(
            "/library/sections/1/all",
            params={"X-Plex-Container-Start": 20, "X-Plex-Container-Size": 7},
        )
    )
    by_header = container(
        await pms.get(
            "/library/sections/1/all",
            headers={"X-Plex-Container-Start": "20", "X-Plex-Container-Size": "7"},
        )
    )
    assert by_query["Metadata"] == by_header["Metadata"]


async def test_pages_cover_the_section_exactly_once(pms: httpx.AsyncClient) -> None:
    seen: list[str] = []
    start = 0
    while True:
        body = container(
            await pms.get(
                "/library/sections/1/all",
                headers={"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": "50"},
            )
        )
        seen += [m["ratingKey"] for m in body.get("Metadata", [])]
        start += 50
        if start >= body["totalSize"]:
            break
    assert len(seen) == len(set(seen)) == body["totalSize"]


async def test_size_zero_gives_the_count_only(
    pms: httpx.AsyncClient, sim: RunningSimulator
) -> None:
    body = container(
        await pms.get(
            "/library/sections/2/all", params={"type": 4}, headers={"X-Plex-Container-Size": "0"}
        )
    )
    assert body["size"] == 0 and "Metadata" not in body
    assert body["totalSize"] == sim.world.servers[0].library.count(2, Kind.EPISODE) == 180


async def test_start_past_the_end_is_an_empty_page(pms: httpx.AsyncClient) -> None:
    body = container(
        await pms.get(
            "/library/sections/1/all",
            headers={"X-Plex-Container-Start": "100000", "X-Plex-Container-Size": "10"},
        )
    )
    assert body["size"] == 0 and body["offset"] == body["totalSize"]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Plex-Container-Start": "ten"},
        {"X-Plex-Container-Size": "-1"},
        {"X-Plex-Container-Start": "1e3"},
    ],
)
async def test_bad_paging_values_are_400(pms: httpx.AsyncClient, headers: dict) -> None:
    response = await pms.get("/library/sections/1/all", headers=headers)
    assert response.status_code == 400
    assert "X-Plex-Container" in response.text


@pytest.mark.parametrize(
    "params",
    [
        {"type": "movie"},
        {"sort": "colour"},
        {"sort": "addedAt:sideways"},
        {"addedAt>>": "yesterday"},
        {"includeGuids": "yes"},
        {"limit": "-3"},
    ],
)
async def test_bad_query_values_are_400(pms: httpx.AsyncClient, params: dict) -> None:
    response = await pms.get("/library/sections/1/all", params=params)
    assert response.status_code == 400


async def test_unknown_or_bad_section_ids(pms: httpx.AsyncClient) -> None:
    assert (await pms.get("/library/sections/9/all")).status_code == 404
    assert (await pms.get("/library/sections/abc/all")).status_code == 400


async def test_types_of_the_show_section(pms: httpx.AsyncClient, sim: RunningSimulator) -> None:
    lib = sim.world.servers[0].library
    for number, kind in ((2, Kind.SHOW), (3, Kind.SEASON), (4, Kind.EPISODE)):
        body = container(
            await pms.get(
                "/library/sections/2/all",
                params={"type": number},
                headers={"X-Plex-Container-Size": "3"},
            )
        )
        assert body["totalSize"] == lib.count(2, kind)
        assert {m["type"] for m in body["Metadata"]} == {kind.label}
    movies_in_shows = container(await pms.get("/library/sections/2/all", params={"type": 1}))
    assert movies_in_shows["totalSize"] == 0


async def test_guids_only_with_include_guids(pms: httpx.AsyncClient, pms_spec: OpenAPI) -> None:
    plain = container(await pms.get("/library/sections/1/all"))["Metadata"]
    assert not any("Guid" in m for m in plain)
    response = await pms.get("/library/sections/1/all", params={"includeGuids": 1})
    validate(pms_spec, response)
    rich = container(response)["Metadata"]
    modern = [m for m in rich if m["guid"].startswith("plex://movie/")]
    legacy = [m for m in rich if m["guid"].startswith("com.plexapp.agents.")]
    local = [m for m in rich if m["guid"].startswith("local://")]
    assert modern and legacy and local
    assert all(len(m["guid"].rsplit("/", 1)[1]) == 24 for m in modern)
    assert all(m["Guid"][0]["id"].startswith("imdb://tt") for m in modern)
    assert not any("Guid" in m for m in legacy + local)
    assert all(m["guid"].endswith("?lang=en") for m in legacy)
    assert any(not any(g["id"].startswith("tmdb://") for g in m["Guid"]) for m in modern)


async def test_legacy_show_guids_use_thetvdb(pms: httpx.AsyncClient, sim: RunningSimulator) -> None:
    lib = sim.world.servers[0].library
    show = next(s for s in lib.of_kind(2, Kind.SHOW) if s.agent == Agent.LEGACY)
    assert show.children
    season = show.children[0]
    assert season.children
    episode = season.children[0]
    items = container(
        await pms.get(
            f"/library/metadata/{show.rating_key},{season.rating_key},{episode.rating_key}"
        )
    )
    show_guid, season_guid, episode_guid = (m["guid"] for m in items["Metadata"])
    tvdb = show_guid.removeprefix("com.plexapp.agents.thetvdb://").removesuffix("?lang=en")
    assert tvdb.isdigit()
    assert season_guid == f"com.plexapp.agents.thetvdb://{tvdb}/{season.index}?lang=en"
    assert (
        episode_guid
        == f"com.plexapp.agents.thetvdb://{tvdb}/{season.index}/{episode.index}?lang=en"
    )


async def test_added_at_filter(pms: httpx.AsyncClient, sim: RunningSimulator) -> None:
    movies = sim.world.servers[0].library.of_kind(1, Kind.MOVIE)
    cut = sorted(m.added_at for m in movies)[len(movies) // 2]
    expected = sum(1 for m in movies if m.added_at > cut)
    # httpx percent-encodes the key as python-plexapi does; the raw form must work as well.
    encoded = container(await pms.get("/library/sections/1/all", params={"addedAt>>": cut}))
    raw = container(await pms.get(f"/library/sections/1/all?addedAt>>={cut}"))
    assert encoded["totalSize"] == raw["totalSize"] == expected
    assert all(m["addedAt"] > cut for m in encoded["Metadata"])
    at_least = container(await pms.get(f"/library/sections/1/all?addedAt>={cut}"))
    assert at_least["totalSize"] == expected + 1


async def test_updated_at_filter_finds_changed_items(
    pms: httpx.AsyncClient, sim: RunningSimulator
) -> None:
    world = sim.world
    since = world.now()
    episode = world.servers[0].library.of_kind(2, Kind.EPISODE)[5]
    world.advance_clock(10)
    world.update_item("home", episode.rating_key, title="Renamed Episode")
    body = container(
        await pms.get(
            "/library/sections/2/all", params={"type": 4, "updatedAt>>": since, "sort": "updatedAt"}
        )
    )
    assert [m["ratingKey"] for m in body["Metadata"]] == [str(episode.rating_key)]
    assert body["Metadata"][0]["title"] == "Renamed Episode"


async def test_relative_date_filter(pms: httpx.AsyncClient, sim: RunningSimulator) -> None:
    movie = sim.world.add_movie("home", title="Fresh Arrival")
    body = container(await pms.get("/library/sections/1/all", params={"addedAt>>": "-1h"}))
    assert [m["ratingKey"] for m in body["Metadata"]] == [str(movie.rating_key)]


@pytest.mark.parametrize(
    "sort,key",
    [
        ("addedAt", "addedAt"),
        ("updatedAt", "updatedAt"),
        ("titleSort", "titleSort"),
        ("year", "year"),
    ],
)
async def test_sorts(pms: httpx.AsyncClient, sort: str, key: str) -> None:
    for direction in ("", ":desc"):
        items = container(
            await pms.get("/library/sections/1/all", params={"sort": sort + direction})
        )["Metadata"]
        values = [
            (m.get(key) or m["title"]).lower() if key == "titleSort" else m[key] for m in items
        ]
        assert values == sorted(values, reverse=direction == ":desc")


async def test_metadata_detail_and_multiple_ids(
    pms: httpx.AsyncClient, sim: RunningSimulator, pms_spec: OpenAPI
) -> None:
    lib = sim.world.servers[0].library
    movie = lib.of_kind(1, Kind.MOVIE)[0]
    episode = lib.of_kind(2, Kind.EPISODE)[0]
    response = await pms.get(f"/library/metadata/{movie.rating_key},{episode.rating_key}")
    validate(pms_spec, response)
    first, second = container(response)["Metadata"]
    assert first["ratingKey"] == str(movie.rating_key) and first["librarySectionID"] == 1
    assert first["summary"] and first["Media"][0]["Part"][0]["file"].endswith(".mkv")
    season = episode.parent
    assert season is not None and season.parent is not None
    assert second["grandparentTitle"] == season.parent.title
    assert second["parentIndex"] == season.index


async def test_unknown_rating_key_is_404_and_bad_one_400(pms: httpx.AsyncClient) -> None:
    assert (await pms.get("/library/metadata/99999999")).status_code == 404
    assert (await pms.get("/library/metadata/abc")).status_code == 400


async def test_children_of_show_and_season(
    pms: httpx.AsyncClient, sim: RunningSimulator, community_spec: OpenAPI
) -> None:
    show = sim.world.servers[0].library.of_kind(2, Kind.SHOW)[0]
    assert show.children and show.children[0].children is not None
    response = await pms.get(f"/library/metadata/{show.rating_key}/children")
    validate(community_spec, response)
    seasons = container(response)["Metadata"]
    assert [s["index"] for s in seasons] == [s.index for s in show.children]
    season = seasons[0]
    episodes = container(await pms.get(f"{season['key']}", params={"includeGuids": 1}))
    assert episodes["totalSize"] == len(show.children[0].children)
    assert all(e["parentRatingKey"] == season["ratingKey"] for e in episodes["Metadata"])
    assert [e["index"] for e in episodes["Metadata"]] == list(range(1, episodes["totalSize"] + 1))


async def test_recently_added_is_newest_first_and_paged(
    pms: httpx.AsyncClient, sim: RunningSimulator, community_spec: OpenAPI
) -> None:
    movie = sim.world.add_movie("home", title="Just Arrived")
    response = await pms.get("/library/recentlyAdded", headers={"X-Plex-Container-Size": "20"})
    validate(community_spec, response)
    body = container(response)
    assert body["Metadata"][0]["ratingKey"] == str(movie.rating_key)
    added = [m["addedAt"] for m in body["Metadata"]]
    assert added == sorted(added, reverse=True) and body["size"] == 20
    assert body["totalSize"] == 300 + 1


async def test_hub_search(pms: httpx.AsyncClient, sim: RunningSimulator, pms_spec: OpenAPI) -> None:
    sim.world.add_movie("home", title="Zanzibar Quux Adventure")
    sim.world.add_show("home", title="Quux Street Chronicles")
    response = await pms.get("/hubs/search", params={"query": "quux", "limit": 5})
    validate(pms_spec, response)
    hubs = {h["type"]: h for h in container(response)["Hub"]}
    assert [m["title"] for m in hubs["movie"]["Metadata"]] == ["Zanzibar Quux Adventure"]
    assert [m["title"] for m in hubs["show"]["Metadata"]] == ["Quux Street Chronicles"]
    in_shows = container(await pms.get("/hubs/search", params={"query": "quux", "sectionId": 2}))
    assert {h["type"]: h["size"] for h in in_shows["Hub"]}["movie"] == 0
    assert (await pms.get("/hubs/search")).status_code == 400


async def test_xml_is_the_default(sim: RunningSimulator, http: httpx.AsyncClient) -> None:
    response = await http.get(
        f"{sim.url(0)}/library/sections/2/all",
        headers={"X-Plex-Token": sim.world.owner.token, "X-Plex-Container-Size": "2"},
        params={"includeGuids": 1},
    )
    assert response.headers["content-type"].startswith("application/xml")
    root = etree.fromstring(response.content)
    assert root.tag == "MediaContainer" and root.get("size") == "2"
    shows = root.findall("Directory")
    assert len(shows) == 2 and all(s.get("type") == "show" for s in shows)
    movies = etree.fromstring(
        (
            await http.get(
                f"{sim.url(0)}/library/sections/1/all",
                params={"includeGuids": 1},
                headers={"X-Plex-Token": sim.world.owner.token},
            )
        ).content
    )
    assert (
        movies.findall("Video")
        and movies.findall("Video/Guid")
        and movies.findall("Video/Media/Part")
    )


async def test_second_server_has_its_own_library(
    sim: RunningSimulator, http: httpx.AsyncClient
) -> None:
    cabin = sim.world.servers[1]
    headers = {**JSON, "X-Plex-Token": cabin.shares["friend1"].token}
    body = container(
        await http.get(
            f"{sim.url('cabin')}/library/sections/1/all",
            headers={**headers, "X-Plex-Container-Size": "0"},
        )
    )
    assert body["totalSize"] == cabin.library.count(1, Kind.MOVIE)
    home_token = sim.world.servers[0].shares["friend1"].token
    refused = await http.get(
        f"{sim.url('cabin')}/library/sections", headers={**JSON, "X-Plex-Token": home_token}
    )
    assert refused.status_code == 401
