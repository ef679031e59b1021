"""``GET /api/v1/media/recent`` and ``GET /api/v1/library``: orders, filters, keyset paging
(every item exactly once), totals, and bad input answered with problems naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from medianest.core.db.models import LibraryItem
from medianest.sdk.access import Permission
from medianest.sdk.models import encode_cursor
from medianest.sdk.testing import RunningHub
from tests.media.conftest import (
    LIBRARY,
    MEDIA,
    SHELF_UNDATED,
    fields_of,
    problem_of,
    rows,
)

SOURCES = ("plex:home", "plex:cabin", "shelf")
WORKS = ("movie", "show")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SORTS = ("title", "-title", "added", "-added", "year", "-year")


async def walk(
    running: RunningHub, headers: dict, url: str, params: dict[str, Any]
) -> tuple[list[dict], list[dict]]:
    """Every page of a list: the items in order, and each page's body."""
    items: list[dict] = []
    pages: list[dict] = []
    cursor = None
    while True:
        query = params | ({"cursor": cursor} if cursor else {})
        response = await running.client.get(url, headers=headers, query_string=query)
        body = await response.get_json()
        assert response.status_code == 200, body
        pages.append(body)
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages
        assert len(pages) < 200, "paging does not end"


def refs(items: list[dict]) -> list[tuple[str, str]]:
    return [(item["source"], item["item_id"]) for item in items]


def ordered(found: list[LibraryItem], sort: str) -> list[tuple[str, str]]:
    """``found`` in the order ``sort`` lists them (titles aside: the database decides)."""
    name = sort.removeprefix("-")
    keys = {
        "year": lambda row: (row.year or 0, row.id),
        "added": lambda row: (row.added_at or EPOCH, row.id),
    }
    result = sorted(found, key=keys[name], reverse=sort.startswith("-"))
    return [(row.source, row.item_id) for row in result]


async def title_order(running: RunningHub, kinds: tuple[str, ...], descending: bool) -> list:
    """The catalogue's works by title as the database orders them (its collation)."""
    direction = "DESC" if descending else "ASC"
    marks = ", ".join("?" for _ in kinds)
    statement = (
        f"SELECT source, item_id FROM core_library_item WHERE kind IN ({marks}) "
        f"ORDER BY lower(title) {direction}, id {direction}"
    )
    if running.hub.database.dialect == "postgres":
        statement = statement.replace(marks, ", ".join(f"${i}" for i in range(1, len(kinds) + 1)))
    found = await running.hub.database.connection.execute_query_dict(statement, list(kinds))
    return [(row["source"], row["item_id"]) for row in found]


# -- recently added ------------------------------------------------------------------------


async def test_recent_pages_through_everything_newest_first(
    synced: RunningHub, reader: dict
) -> None:
    everything = [
        r for r in await rows(source__in=SOURCES) if r.kind != "season" and r.added_at is not None
    ]
    expected = [
        (r.source, r.item_id)
        for r in sorted(everything, key=lambda r: (r.added_at, r.id), reverse=True)
    ]

    items, pages = await walk(synced, reader, f"{MEDIA}/recent", {"limit": 37})

    assert refs(items) == expected
    assert len(set(refs(items))) == len(items)
    assert len(pages) == -(-len(expected) // 37)
    assert all(len(page["items"]) == 37 for page in pages[:-1])
    assert {item["kind"] for item in items} == {"movie", "show", "episode"}
    assert not {("shelf", item_id) for item_id in SHELF_UNDATED} & set(refs(items))
    added = [datetime.fromisoformat(item["added_at"]) for item in items]
    assert added == sorted(added, reverse=True)


@pytest.mark.parametrize(
    "params",
    [
        {"source": "plex:cabin,shelf", "kind": "movie"},
        {"source": ["plex:cabin", "shelf"], "kind": ["movie"]},
        {"source": ["plex:cabin", "shelf,plex:cabin"], "kind": "movie"},
    ],
)
async def test_recent_filters_by_source_and_kind(
    synced: RunningHub, reader: dict, params: dict
) -> None:
    expected = [
        (r.source, r.item_id)
        for r in sorted(
            await rows(source__in=["plex:cabin", "shelf"], kind="movie", added_at__not_isnull=True),
            key=lambda r: (r.added_at, r.id),
            reverse=True,
        )
    ]

    items, _ = await walk(synced, reader, f"{MEDIA}/recent", params | {"limit": 50})

    assert refs(items) == expected


async def test_recent_lists_seasons_when_asked(synced: RunningHub, reader: dict) -> None:
    seasons = await rows(kind="season")

    items, _ = await walk(synced, reader, f"{MEDIA}/recent", {"kind": "season", "limit": 200})

    assert set(refs(items)) == {(r.source, r.item_id) for r in seasons}


# -- browsing ------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", SORTS)
async def test_the_library_pages_through_every_work_once_in_order(
    synced: RunningHub, reader: dict, sort: str
) -> None:
    works = await rows(kind__in=WORKS)
    if sort.removeprefix("-") == "title":
        expected = await title_order(synced, WORKS, sort.startswith("-"))
    else:
        expected = ordered(works, sort)

    items, pages = await walk(synced, reader, LIBRARY, {"sort": sort, "limit": 23})

    assert refs(items) == expected
    assert len(set(refs(items))) == len(works)
    assert {page["total"] for page in pages} == {len(works)}
    assert {item["kind"] for item in items} == set(WORKS)
    if synced.hub.database.dialect == "sqlite" and sort.endswith("title"):
        titles = [item["title"].lower() for item in items]
        assert titles == sorted(titles, reverse=sort.startswith("-"))


@pytest.mark.parametrize("sort", ["year", "-year", "added", "-added"])
async def test_items_without_the_sort_key_come_first_ascending_and_last_descending(
    synced: RunningHub, reader: dict, sort: str
) -> None:
    items, _ = await walk(synced, reader, LIBRARY, {"source": "shelf", "sort": sort, "limit": 3})

    ids = [item["item_id"] for item in items]
    assert len(ids) == 10
    undated = sorted(SHELF_UNDATED, key=int)
    if sort.startswith("-"):
        assert ids[-2:] == undated[::-1]
    else:
        assert ids[:2] == undated


async def test_the_library_filters_by_kind_year_and_source(
    synced: RunningHub, reader: dict
) -> None:
    movies = await rows(kind="movie", source="plex:home")
    year = movies[0].year
    within = [r for r in await rows(kind__in=WORKS) if r.year and 1990 <= r.year <= 2005]

    items, pages = await walk(
        synced, reader, LIBRARY, {"source": "plex:home", "kind": "movie", "limit": 50}
    )
    assert set(refs(items)) == {(r.source, r.item_id) for r in movies}
    assert pages[0]["total"] == len(movies)

    items, pages = await walk(synced, reader, LIBRARY, {"year": year, "limit": 50})
    same_year = await rows(kind__in=WORKS, year=year)
    assert set(refs(items)) == {(r.source, r.item_id) for r in same_year}
    assert pages[0]["total"] == len(same_year)

    items, pages = await walk(
        synced, reader, LIBRARY, {"year_from": 1990, "year_to": 2005, "sort": "-year"}
    )
    assert refs(items) == ordered(within, "-year")
    assert pages[0]["total"] == len(within) > 0

    items, _ = await walk(synced, reader, LIBRARY, {"kind": "season,episode", "limit": 200})
    assert {item["kind"] for item in items} == {"season", "episode"}


async def test_the_library_lists_the_children_of_a_parent(synced: RunningHub, reader: dict) -> None:
    [show, *_] = await rows(source="plex:cabin", kind="show")
    seasons = await rows(source="plex:cabin", parent_id=show.item_id)

    items, pages = await walk(
        synced, reader, LIBRARY, {"source": "plex:cabin", "parent": show.item_id, "limit": 2}
    )

    assert set(refs(items)) == {(r.source, r.item_id) for r in seasons}
    assert pages[0]["total"] == len(seasons)
    assert {item["kind"] for item in items} == {"season"}

    nothing, _ = await walk(
        synced, reader, LIBRARY, {"source": "plex:cabin", "parent": show.item_id, "kind": "movie"}
    )
    assert nothing == []


async def test_an_empty_list_has_no_cursor(synced: RunningHub, reader: dict) -> None:
    for url in (LIBRARY, f"{MEDIA}/recent"):
        response = await synced.client.get(
            url, headers=reader, query_string={"source": "live", "kind": "movie"}
        )
        body = await response.get_json()
        assert response.status_code == 200, body
        assert body["items"] == [] and body["next_cursor"] is None
    body = await (
        await synced.client.get(LIBRARY, headers=reader, query_string={"source": "live"})
    ).get_json()
    assert body["total"] == 0


# -- bad input -----------------------------------------------------------------------------


async def a_cursor(running: RunningHub, headers: dict, url: str, **params: Any) -> str:
    response = await running.client.get(url, headers=headers, query_string=params | {"limit": 1})
    cursor = (await response.get_json())["next_cursor"]
    assert cursor
    return cursor


async def test_a_cursor_works_only_with_its_own_order(synced: RunningHub, reader: dict) -> None:
    by_title = await a_cursor(synced, reader, LIBRARY, sort="title")
    recent = await a_cursor(synced, reader, f"{MEDIA}/recent")

    for url, params in [
        (LIBRARY, {"sort": "year", "cursor": by_title}),
        (LIBRARY, {"sort": "-title", "cursor": by_title}),
        (LIBRARY, {"sort": "added", "cursor": recent}),
        (f"{MEDIA}/recent", {"cursor": by_title}),
    ]:
        response = await synced.client.get(url, headers=reader, query_string=params)
        problem = await problem_of(response, 400)
        assert fields_of(problem) == {"cursor"}, params


BAD_CURSORS = [
    ("title", "bm90IGEgY3Vyc29y"),  # well formed, but not one the hub made
    ("title", "bm90IGpzb24"),
    ("title", encode_cursor({"s": "title", "i": "1", "k": "a"})),
    ("title", encode_cursor({"s": "title", "i": 2**70, "k": "a"})),
    ("title", encode_cursor({"s": "title", "i": True, "k": "a"})),
    ("title", encode_cursor({"s": "title", "i": 5, "k": 7})),
    ("title", encode_cursor({"s": "title", "i": 5, "k": "nul\x00"})),
    ("title", encode_cursor({"s": "title", "i": 2**40})),
    ("title", encode_cursor({"s": ["title"], "i": 5, "k": "a"})),
    ("year", encode_cursor({"s": "year", "i": 5, "k": 2**40})),
    ("year", encode_cursor({"s": "year", "i": 5, "k": "1999"})),
    ("year", encode_cursor({"s": "year", "i": 5})),
    ("added", encode_cursor({"s": "added", "i": 5, "k": None})),
    ("added", encode_cursor({"s": "added", "i": 5, "k": 1999})),
]


async def test_a_bad_cursor_is_a_400_naming_it(synced: RunningHub, reader: dict) -> None:
    for sort, cursor in BAD_CURSORS:
        response = await synced.client.get(
            LIBRARY, headers=reader, query_string={"sort": sort, "cursor": cursor}
        )
        problem = await problem_of(response, 400)
        assert fields_of(problem) == {"cursor"}, cursor
    recent = encode_cursor({"s": "recent", "i": 5, "k": "yesterday"})
    response = await synced.client.get(
        f"{MEDIA}/recent", headers=reader, query_string={"cursor": recent}
    )
    if synced.hub.database.dialect == "postgres":
        assert fields_of(await problem_of(response, 400)) == {"cursor"}
    else:  # SQLite compares times as text: a foreign key is a position, never an error
        assert response.status_code == 200


BAD_PARAMETERS = [
    (LIBRARY, {"limit": 0}, 422, "limit"),
    (LIBRARY, {"limit": 201}, 422, "limit"),
    (LIBRARY, {"limit": "many"}, 422, "limit"),
    (LIBRARY, {"limit": ["1", "2"]}, 422, "limit"),
    (f"{MEDIA}/recent", {"limit": 0}, 422, "limit"),
    (LIBRARY, {"sort": "rating"}, 422, "sort"),
    (LIBRARY, {"kind": "film"}, 422, "kind"),
    (LIBRARY, {"kind": "movie,tv"}, 422, "kind"),
    (f"{MEDIA}/recent", {"kind": ["movie", "nonsense"]}, 422, "kind"),
    (LIBRARY, {"source": "plex:attic"}, 400, "source"),
    (f"{MEDIA}/recent", {"source": "plex:home,nowhere"}, 400, "source"),
    (LIBRARY, {"year": 1700}, 422, "year"),
    (LIBRARY, {"year": "nineteen"}, 422, "year"),
    (LIBRARY, {"year": 1999, "year_from": 1990}, 400, "year"),
    (LIBRARY, {"year_from": 2000, "year_to": 1990}, 400, "year_from"),
    (LIBRARY, {"parent": "1"}, 400, "parent"),
    (LIBRARY, {"parent": "1", "source": "plex:home,plex:cabin"}, 400, "parent"),
    (LIBRARY, {"parent": "x" * 300, "source": "plex:home"}, 422, "parent"),
    (LIBRARY, {"parent": "a\x00b", "source": "plex:home"}, 422, "parent"),
    (LIBRARY, {"cursor": "c" * 700}, 422, "cursor"),
    (LIBRARY, {"page": 2}, 422, "page"),
    (f"{MEDIA}/recent", {"sort": "title"}, 422, "sort"),
]


async def test_bad_list_parameters_are_problems_naming_them(
    synced: RunningHub, reader: dict
) -> None:
    for url, params, status, field in BAD_PARAMETERS:
        response = await synced.client.get(url, headers=reader, query_string=params)
        problem = await problem_of(response, status)
        assert fields_of(problem) == {field}, (url, params)


async def test_odd_values_never_fail_the_server(synced: RunningHub, reader: dict) -> None:
    odd = ["", "%00", "\x00", "'; DROP TABLE core_library_item; --", "é" * 100, "\ufffd"]
    for value in odd:
        for url, name in [
            (LIBRARY, "parent"),
            (LIBRARY, "source"),
            (LIBRARY, "kind"),
            (LIBRARY, "cursor"),
            (f"{MEDIA}/recent", "cursor"),
        ]:
            params = {name: value} | ({"source": "plex:home"} if name == "parent" else {})
            response = await synced.client.get(url, headers=reader, query_string=params)
            assert response.status_code < 500, (url, name, value, await response.get_data())
    assert await LibraryItem.all().count() > 0


async def test_lists_need_the_search_permission(synced: RunningHub) -> None:
    bare = await synced.sign_in(permissions=[])
    for url in (LIBRARY, f"{MEDIA}/recent"):
        assert (await synced.client.get(url)).status_code == 401
        problem = await problem_of(await synced.client.get(url, headers=bare), 403)
        assert problem["permission"] == Permission.SEARCH
