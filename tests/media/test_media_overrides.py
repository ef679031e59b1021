"""``PATCH /api/v1/media/{source}/{item_id}``: admins' corrections, shown everywhere, audited,
announced, and kept through full and incremental syncs that change the item upstream."""

from __future__ import annotations

import asyncio
from typing import Any

from medianest.core.db.models import AuditEvent, LibraryItem, MediaOverride
from medianest.core.sync import RunKind
from medianest.sdk.access import Permission
from medianest.sdk.testing import RunningHub
from medianest_plex.simulator import RunningSimulator
from tests.media.conftest import LIBRARY, MEDIA, fields_of, problem_of, rows
from tests.sync.sync_testing import sync

CORRECTION = {
    "title": "Xylophone Quagmire Nocturne",
    "year": 1931,
    "summary": "Corrected by hand.",
    "ids": {"imdb": "tt7654321", "tmdb": 4242, "tvdb": 8484},
    "poster_url": "https://images.example/poster.jpg",
}


async def patch(running: RunningHub, headers: dict, item: LibraryItem, body: Any) -> Any:
    return await running.client.patch(
        f"{MEDIA}/{item.source}/{item.item_id}", headers=headers, json=body
    )


async def corrected(running: RunningHub, headers: dict, item: LibraryItem, body: Any) -> dict:
    response = await patch(running, headers, item, body)
    answer = await response.get_json()
    assert response.status_code == 200, answer
    return answer


async def a_film(source: str = "plex:home") -> LibraryItem:
    return (await rows(source=source, kind="movie"))[0]


async def title_search(running: RunningHub, words: str) -> set[str]:
    """Item ids whose title has every word of ``words``, through the search index."""
    database = running.hub.database
    if database.dialect == "postgres":
        statement = (
            "SELECT item_id FROM core_library_item WHERE search @@ plainto_tsquery('simple', $1)"
        )
        found = await database.connection.execute_query_dict(statement, [words])
    else:
        statement = (
            "SELECT item_id FROM core_library_item WHERE id IN (SELECT rowid FROM "
            "core_library_item_fts WHERE core_library_item_fts MATCH ?)"
        )
        match = " ".join(f'"{word}"' for word in words.split())
        found = await database.connection.execute_query_dict(statement, [match])
    return {row["item_id"] for row in found}


def shows_correction(view: dict) -> None:
    item = view["item"]
    assert item["title"] == CORRECTION["title"]
    assert item["year"] == CORRECTION["year"]
    assert item["summary"] == CORRECTION["summary"]
    assert item["ids"] | {"youtube": None} == CORRECTION["ids"] | {"youtube": None}
    assert item["poster"] == CORRECTION["poster_url"]
    overrides = view["overrides"]
    assert {k: overrides[k] for k in ("title", "year", "summary", "ids", "poster_url")} == (
        CORRECTION
    )


async def row_columns(item: LibraryItem) -> tuple:
    row = await LibraryItem.get(id=item.id)
    return (row.title, row.year, row.imdb, row.tmdb, row.tvdb)


CORRECTED_COLUMNS = (CORRECTION["title"], 1931, "tt7654321", 4242, 8484)


async def test_a_correction_shows_in_details_lists_and_the_catalogue(
    synced: RunningHub, editor: dict
) -> None:
    film = await a_film()

    answer = await corrected(synced, editor, film, CORRECTION)

    shows_correction(answer)
    assert answer["overrides"]["updated_by"] == "editor"
    assert answer["overrides"]["updated_at"] is not None
    assert answer["item"]["item_id"] == film.item_id and answer["available"] is True
    shows_correction(
        await (
            await synced.client.get(f"{MEDIA}/plex:home/{film.item_id}", headers=editor)
        ).get_json()
    )
    assert await row_columns(film) == CORRECTED_COLUMNS
    listed = await (
        await synced.client.get(
            LIBRARY, headers=editor, query_string={"source": "plex:home", "year": 1931}
        )
    ).get_json()
    assert [(i["item_id"], i["title"], i["summary"]) for i in listed["items"]] == [
        (film.item_id, CORRECTION["title"], CORRECTION["summary"])
    ]
    recent = await (
        await synced.client.get(
            f"{MEDIA}/recent", headers=editor, query_string={"source": "plex:home", "limit": 200}
        )
    ).get_json()
    [shown] = [i for i in recent["items"] if i["item_id"] == film.item_id]
    assert shown["title"] == CORRECTION["title"] and shown["poster"] == CORRECTION["poster_url"]


async def test_null_removes_a_correction_and_the_last_one_goes_with_its_row(
    synced: RunningHub, editor: dict
) -> None:
    film = await a_film()
    upstream = (film.title, film.year, film.imdb, film.tmdb, film.tvdb)
    await corrected(synced, editor, film, CORRECTION)

    answer = await corrected(synced, editor, film, {"title": None, "ids": {"tmdb": None}})

    assert answer["item"]["title"] == film.title
    assert answer["item"]["year"] == 1931
    assert answer["item"]["ids"]["tmdb"] == film.tmdb
    assert answer["item"]["ids"]["imdb"] == "tt7654321"
    assert answer["overrides"]["title"] is None and answer["overrides"]["ids"]["tmdb"] is None
    assert await row_columns(film) == (film.title, 1931, "tt7654321", film.tmdb, 8484)

    answer = await corrected(
        synced, editor, film, {"year": None, "summary": None, "ids": None, "poster_url": None}
    )

    assert answer["overrides"] is None
    assert answer["item"]["poster"] != CORRECTION["poster_url"]
    assert answer["item"]["summary"] != CORRECTION["summary"]
    assert await row_columns(film) == upstream
    assert await MediaOverride.filter(item_id=film.item_id).count() == 0


async def test_each_change_is_audited_and_announced(synced: RunningHub, editor: dict) -> None:
    film = await a_film("plex:cabin")
    announced: list[Any] = []
    async with synced.hub.pubsub.subscribe("catalogue") as messages:

        async def collect() -> None:
            async for message in messages:
                announced.append(message)
                return

        collector = asyncio.create_task(collect())
        await asyncio.sleep(0.05)
        await corrected(synced, editor, film, {"title": "Quiet Corrections", "ids": {"tvdb": 7}})
        await asyncio.wait_for(collector, 10)

    assert announced == [{"source": "plex:cabin", "item_id": film.item_id}]
    [event] = await AuditEvent.filter(action="media.overridden")
    assert event.actor == "editor"
    assert event.target == f"media:plex:cabin/{film.item_id}"
    assert event.details == {
        "title": {"before": None, "after": "Quiet Corrections"},
        "ids.tvdb": {"before": None, "after": 7},
    }

    await corrected(synced, editor, film, {"title": "Quiet Corrections"})
    assert await AuditEvent.filter(action="media.overridden").count() == 1

    await corrected(synced, editor, film, {"title": None, "year": 2001})
    last = await AuditEvent.filter(action="media.overridden").order_by("-id").first()
    assert last.details == {
        "title": {"before": "Quiet Corrections", "after": None},
        "year": {"before": None, "after": 2001},
    }


async def test_corrections_need_the_edit_metadata_permission(
    synced: RunningHub, reader: dict, editor: dict
) -> None:
    film = await a_film()
    body = {"title": "Not Allowed"}

    assert (await patch(synced, {}, film, body)).status_code == 401
    for headers in (reader, await synced.sign_in()):
        problem = await problem_of(await patch(synced, headers, film, body), 403)
        assert problem["permission"] == Permission.EDIT_METADATA
    assert (await LibraryItem.get(id=film.id)).title == film.title
    admin = await synced.sign_in(role="admin")
    assert (await patch(synced, admin, film, body)).status_code == 200


async def test_only_catalogue_items_of_known_sources_can_be_corrected(
    synced: RunningHub, editor: dict
) -> None:
    body = {"title": "Nowhere"}
    for url, named in [
        (f"{MEDIA}/plex:attic/1", "plex:attic"),
        (f"{MEDIA}/plex:home/999999", "999999"),
        (f"{MEDIA}/live/trailer", "trailer"),
        (f"{MEDIA}/plex:home/a%00b", "plex:home"),
    ]:
        problem = await problem_of(await synced.client.patch(url, headers=editor, json=body), 404)
        assert named in problem["detail"], url
    assert await MediaOverride.all().count() == 0


BAD_BODIES = [
    ({"title": "Fine", "rating": 5}, "rating"),
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "x" * 501}, "title"),
    ({"title": 12}, "title"),
    ({"year": 1869}, "year"),
    ({"year": 2201}, "year"),
    ({"year": "1999"}, "year"),
    ({"year": 1999.5}, "year"),
    ({"summary": "s" * 10_001}, "summary"),
    ({"summary": "nul\x00"}, "summary"),
    ({"ids": {"imdb": "12345"}}, "ids.imdb"),
    ({"ids": {"imdb": "tt" + "1" * 15}}, "ids.imdb"),
    ({"ids": {"tmdb": 0}}, "ids.tmdb"),
    ({"ids": {"tvdb": 2**31}}, "ids.tvdb"),
    ({"ids": {"tvdb": True}}, "ids.tvdb"),
    ({"ids": {"youtube": "abc"}}, "ids.youtube"),
    ({"ids": "tt1"}, "ids"),
    ({"poster_url": "ftp://images.example/p.jpg"}, "poster_url"),
    ({"poster_url": "javascript:alert(1)"}, "poster_url"),
    ({"poster_url": "https://"}, "poster_url"),
    ({"poster_url": "https://images.example/a poster.jpg"}, "poster_url"),
]


async def test_bad_corrections_are_422s_naming_the_field(synced: RunningHub, editor: dict) -> None:
    film = await a_film()
    for body, field in BAD_BODIES:
        problem = await problem_of(await patch(synced, editor, film, body), 422)
        assert fields_of(problem) == {field}, body
    problem = await problem_of(await patch(synced, editor, film, ["title"]), 422)
    assert fields_of(problem) == {"body"}
    assert await MediaOverride.all().count() == 0


async def test_bodies_that_are_not_json_objects_are_400s(synced: RunningHub, editor: dict) -> None:
    film = await a_film()
    url = f"{MEDIA}/plex:home/{film.item_id}"
    json_type = {"Content-Type": "application/json"}
    for data, headers in [
        (b'{"title": ', json_type),
        (b'{"title": "\xff\xfe"}', json_type),
        (b"", json_type),
        (b'{"title": "Plain"}', {"Content-Type": "text/plain"}),
    ]:
        response = await synced.client.patch(url, headers=editor | headers, data=data)
        problem = await problem_of(response, 400)
        assert fields_of(problem) == {"body"}, data
    for body in ({}, {"ids": {}}):
        problem = await problem_of(await patch(synced, editor, film, body), 400)
        assert "nothing to change" in problem["detail"]
    assert await MediaOverride.all().count() == 0


async def test_a_correction_survives_a_full_sync_that_changes_the_item_upstream(
    synced: RunningHub, editor: dict, plex_sim: RunningSimulator
) -> None:
    hub = synced.hub
    film = await a_film()
    other = (await rows(source="plex:home", kind="movie"))[1]
    await corrected(synced, editor, film, CORRECTION)
    unchanged = await sync(hub, "plex:home")
    assert (unchanged.inserted, unchanged.updated, unchanged.deleted) == (0, 0, 0)
    assert await row_columns(film) == CORRECTED_COLUMNS

    plex_sim.world.advance_clock(600)
    plex_sim.world.update_item(
        "home", film.item_id, title="Renamed Upstream", year=1999, summary="New upstream summary"
    )
    plex_sim.world.update_item("home", other.item_id, title="Other Renamed Upstream")
    run = await sync(hub, "plex:home")

    assert (run.status, run.inserted, run.updated, run.deleted) == ("succeeded", 0, 2, 0)
    assert await row_columns(film) == CORRECTED_COLUMNS
    assert (await LibraryItem.get(id=other.id)).title == "Other Renamed Upstream"
    view = await (
        await synced.client.get(f"{MEDIA}/plex:home/{film.item_id}", headers=editor)
    ).get_json()
    shows_correction(view)
    assert await title_search(synced, CORRECTION["title"]) == {film.item_id}
    assert await title_search(synced, "Renamed Upstream") == {other.item_id}

    answer = await corrected(synced, editor, film, {"title": None, "summary": None})
    assert answer["item"]["title"] == "Renamed Upstream"
    assert answer["item"]["summary"] == "New upstream summary"
    assert answer["item"]["year"] == 1931
    assert await title_search(synced, "Renamed Upstream") == {film.item_id, other.item_id}


async def test_a_correction_survives_an_incremental_sync_that_changes_the_item_upstream(
    synced: RunningHub, editor: dict, plex_sim: RunningSimulator
) -> None:
    hub = synced.hub
    [episode, *_] = await rows(source="plex:cabin", kind="episode")
    await corrected(synced, editor, episode, CORRECTION)

    plex_sim.world.advance_clock(600)
    plex_sim.world.update_item(
        "cabin", episode.item_id, title="Episode Renamed Upstream", summary="Upstream again"
    )
    run = await sync(hub, "plex:cabin", RunKind.INCREMENTAL)

    assert (run.status, run.inserted, run.deleted) == ("succeeded", 0, 0)
    assert run.updated >= 1
    stored = await LibraryItem.get(id=episode.id)
    assert (stored.title, stored.year, stored.imdb, stored.tmdb, stored.tvdb) == CORRECTED_COLUMNS
    assert stored.data["title"] == "Episode Renamed Upstream"
    view = await (
        await synced.client.get(f"{MEDIA}/plex:cabin/{episode.item_id}", headers=editor)
    ).get_json()
    shows_correction(view)
    assert view["parent"]["item_id"] == episode.parent_id
    assert await title_search(synced, CORRECTION["title"]) == {episode.item_id}
    assert await title_search(synced, "Episode Renamed Upstream") == set()


async def test_corrected_ids_match_copies_in_other_sources(
    synced: RunningHub, editor: dict
) -> None:
    home_films = await rows(source="plex:home", kind="movie")
    cabin_imdbs = {r.imdb for r in await rows(source="plex:cabin", kind="movie")}
    alone = next(r for r in home_films if r.imdb and r.imdb not in cabin_imdbs)
    cabin_film = (await rows(source="plex:cabin", kind="movie"))[0]
    before = await (
        await synced.client.get(f"{MEDIA}/plex:home/{alone.item_id}", headers=editor)
    ).get_json()
    assert ("plex:cabin", cabin_film.item_id) not in {
        (c["source"], c["item_id"]) for c in before["copies"]
    }

    await corrected(synced, editor, cabin_film, {"ids": {"imdb": alone.imdb}})

    after = await (
        await synced.client.get(f"{MEDIA}/plex:home/{alone.item_id}", headers=editor)
    ).get_json()
    assert ("plex:cabin", cabin_film.item_id) in {
        (c["source"], c["item_id"]) for c in after["copies"]
    }


async def test_a_title_too_long_for_a_cursor_still_pages(synced: RunningHub, editor: dict) -> None:
    film = await a_film("shelf")
    for long_title in ("m" * 450, "é" * 250, "Ж" * 500):
        await corrected(synced, editor, film, {"title": long_title})
        for sort in ("title", "-title"):  # the one where another item follows it
            query = {"limit": 200, "sort": sort}
            everything = await (
                await synced.client.get(LIBRARY, headers=editor, query_string=query)
            ).get_json()
            order = [(i["source"], i["item_id"]) for i in everything["items"]]
            position = order.index(("shelf", film.item_id))
            if position < len(order) - 1:
                break

        first = await (
            await synced.client.get(
                LIBRARY, headers=editor, query_string=query | {"limit": position + 1}
            )
        ).get_json()
        assert first["items"][-1]["title"] == long_title
        assert len(first["next_cursor"]) < 600
        rest = await (
            await synced.client.get(
                LIBRARY, headers=editor, query_string=query | {"cursor": first["next_cursor"]}
            )
        ).get_json()
        assert [(i["source"], i["item_id"]) for i in first["items"] + rest["items"]] == order
