"""The catalogue search: word prefixes, tiers and recency, filters, overrides, external ids,
search text taken as data, and the same answers as the shared ranking rules on a generated
library, in embedded mode (SQLite) and scaled mode (PostgreSQL + Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from medianest.core.db import Database
from medianest.core.db.models import LibraryItem, MediaOverride
from medianest.core.search import catalogue as catalogue_module
from medianest.core.search.catalogue import SEARCH_INDEXES, Catalogue, CatalogueHit
from medianest.core.search.query import (
    DEFAULT_KINDS,
    MatchTier,
    SearchRequest,
    match_tier,
    rank_key,
)
from medianest.sdk.models import MediaItem, MediaKind
from medianest.sdk.testing import HubHarness
from tests.benchmarks.catalogue_search import library, searches, seed_catalogue

HOME, CABIN, DEN = "plex:home", "plex:cabin", "jellyfin:den"
SOURCES = (HOME, CABIN, DEN)
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def media(
    title: str,
    item_id: str,
    *,
    source: str = HOME,
    kind: str = "movie",
    year: int | None = None,
    added: int | None = 0,
    **fields: Any,
) -> MediaItem:
    """An item; ``added``: days after 2024-01-01 (``None``: never)."""
    return MediaItem.model_validate(
        {
            "kind": kind,
            "title": title,
            "ref": {"source": source, "item_id": item_id},
            "year": year,
            "added_at": EPOCH + timedelta(days=added) if added is not None else None,
            **fields,
        }
    )


@pytest.fixture
async def database(medianest_hub: HubHarness, mode: dict) -> AsyncIterator[Database]:
    """The migrated, empty database of a hub in each runtime mode, active in the test."""
    async with medianest_hub.run({}, **mode) as running:
        with running.hub.database.activate():
            yield running.hub.database


@pytest.fixture
def catalogue(database: Database) -> Catalogue:
    return Catalogue(database)


async def find(
    catalogue: Catalogue,
    text: str,
    *,
    sources: Iterable[str] = SOURCES,
    limit: int = 20,
    **filters: Any,
) -> list[CatalogueHit]:
    return await catalogue.search(SearchRequest(text=text, **filters), list(sources), limit)


def titles(hits: Sequence[CatalogueHit]) -> list[str]:
    return [hit.item.title for hit in hits]


def expected(
    items: Iterable[MediaItem], request: SearchRequest, sources: Iterable[str], limit: int
) -> list[tuple[str, str, MatchTier]]:
    """What the shared rules say a search finds: every item the request wants whose title
    matches, ranked by :func:`rank_key`, the first ``limit``."""
    wanted = set(sources)
    found = []
    for item in items:
        if item.ref.source not in wanted or not request.wants(item):
            continue
        tier = match_tier(request, item.title) if request.words else None
        if tier is not None:
            found.append((rank_key(tier, item), item, tier))
    found.sort(key=lambda entry: entry[0])
    return [(item.ref.source, item.ref.item_id, tier) for _, item, tier in found[:limit]]


def refs(hits: Sequence[CatalogueHit]) -> list[tuple[str, str, MatchTier]]:
    return [(hit.item.ref.source, hit.item.ref.item_id, hit.tier) for hit in hits]


async def execute(database: Database, statement: str, *args: Any) -> None:
    """Run ``statement`` (``?`` placeholders) on either database."""
    if database.dialect == "postgres":
        numbered = statement
        for n in range(1, len(args) + 1):
            numbered = numbered.replace("?", f"${n}", 1)
        async with database.connection.acquire_connection() as connection:
            await connection.execute(numbered, *args)
    else:
        await database.connection.execute_query(statement, list(args))


async def drop_search_indexes(database: Database) -> None:
    for name, _ in SEARCH_INDEXES[database.dialect]:
        await execute(database, f"DROP INDEX {name}")
    await execute(database, "ANALYZE")


# -- matching ------------------------------------------------------------------------------

FILMS = [
    media("Star Wars", "1", year=1977, added=1),
    media("Star Wars: The Empire Strikes Back", "2", year=1980, added=2),
    media("Star Wars: A New Hope", "3", year=1977, added=3),
    media("The Star Wars Holiday Special", "4", year=1978, added=4),
    media("Wars of the Star", "5", year=2001, added=5),
    media("Star Trek", "6", year=1979, added=6, source=CABIN),
    media("Starship Troopers", "7", year=1997, added=7),
    media("Lone Star", "8", year=1996, added=8, source=DEN),
    media("Mustard", "9", year=2010, added=9),
]


async def test_each_word_matches_the_start_of_a_word_of_the_title(
    database: Database, catalogue: Catalogue
) -> None:
    await seed_catalogue(database, FILMS)

    found = set(titles(await find(catalogue, "star wa")))
    assert found == {
        "Star Wars",
        "Star Wars: The Empire Strikes Back",
        "Star Wars: A New Hope",
        "The Star Wars Holiday Special",
        "Wars of the Star",
    }
    # Inside a word is no match: "tar" starts no word of "Star Wars" nor "Mustard".
    assert await find(catalogue, "tar") == []
    assert set(titles(await find(catalogue, "star"))) == {
        f.title for f in FILMS if f.title != "Mustard"
    }
    # Every word must match (AND), in any order.
    assert titles(await find(catalogue, "trek star")) == ["Star Trek"]
    assert titles(await find(catalogue, "STAR   trek")) == ["Star Trek"]
    assert await find(catalogue, "star wars trek") == []


async def test_tiers_then_newer_first_then_title(database: Database, catalogue: Catalogue) -> None:
    await seed_catalogue(database, FILMS)

    hits = await find(catalogue, "Star Wars")
    assert [(hit.item.title, hit.tier) for hit in hits] == [
        ("Star Wars", MatchTier.EXACT),
        ("Star Wars: The Empire Strikes Back", MatchTier.PREFIX),  # 1980
        ("Star Wars: A New Hope", MatchTier.PREFIX),  # 1977
        ("Wars of the Star", MatchTier.WORDS),  # 2001
        ("The Star Wars Holiday Special", MatchTier.WORDS),  # 1978
    ]
    assert titles(await find(catalogue, "star wars", limit=2)) == [
        "Star Wars",
        "Star Wars: The Empire Strikes Back",
    ]


async def test_within_a_year_the_later_added_first_never_added_last_then_by_title(
    database: Database, catalogue: Catalogue
) -> None:
    await seed_catalogue(
        database,
        [
            media("Heat b", "1", year=1995, added=5),
            media("Heat a", "2", year=1995, added=5),
            media("Heat c", "3", year=1995, added=9),
            media("Heat d", "4", year=1995, added=None),
            media("Heat e", "5", year=None, added=20),
            media("Heat f", "6", year=1996, added=1),
        ],
    )

    hits = await find(catalogue, "heat")
    assert titles(hits) == ["Heat f", "Heat c", "Heat a", "Heat b", "Heat d", "Heat e"]
    assert {hit.tier for hit in hits} == {MatchTier.PREFIX}


async def test_kinds_year_and_sources_filter(database: Database, catalogue: Catalogue) -> None:
    show = {"source": HOME, "item_id": "show"}
    season = {"source": HOME, "item_id": "s1"}
    await seed_catalogue(
        database,
        [
            *FILMS,
            media("Star Wars: Andor", "show", kind="show", year=2022, added=10),
            media("Season 1", "s1", kind="season", year=2022, parent=show, index=1),
            media("Star Wars Episode", "e1", kind="episode", year=2022, parent=season, index=1),
            media("Star Wars Theme", "t1", kind="track", year=1977),
        ],
    )

    default = set(titles(await find(catalogue, "star wars")))
    assert "Star Wars: Andor" in default
    assert "Star Wars Episode" not in default
    assert "Star Wars Theme" not in default
    assert DEFAULT_KINDS.isdisjoint({MediaKind.EPISODE, MediaKind.SEASON, MediaKind.TRACK})

    episodes = await find(catalogue, "star wars", kinds=frozenset({MediaKind.EPISODE}))
    assert titles(episodes) == ["Star Wars Episode"]
    seasons = await find(catalogue, "season", kinds=frozenset({MediaKind.SEASON}))
    assert titles(seasons) == ["Season 1"]
    assert await find(catalogue, "season") == []
    tracks = await find(catalogue, "wars", kinds=frozenset({MediaKind.TRACK, MediaKind.SHOW}))
    assert titles(tracks) == ["Star Wars: Andor", "Star Wars Theme"]

    assert titles(await find(catalogue, "star wars", year=1977)) == [
        "Star Wars",
        "Star Wars: A New Hope",
    ]
    assert await find(catalogue, "star wars", year=1990) == []

    # "Star Trek" starts with the text; "Lone Star" only has the word.
    assert titles(await find(catalogue, "star", sources=[CABIN, DEN])) == [
        "Star Trek",
        "Lone Star",
    ]
    assert titles(await find(catalogue, "star", sources=["plex:elsewhere"])) == []


async def test_nothing_to_search_asks_nothing(
    catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(statement: Any) -> list[Any]:
        raise AssertionError(f"the database was asked: {statement}")

    monkeypatch.setattr(catalogue, "_fetch", refuse)
    assert await find(catalogue, "%") == []
    assert await find(catalogue, "-- '\" *") == []
    assert await find(catalogue, "star", sources=[]) == []
    assert await find(catalogue, "star", kinds=frozenset()) == []
    assert await find(catalogue, "star", limit=0) == []
    assert await catalogue.by_external_ids([]) == []
    assert await catalogue.by_external_ids([("imdb", "tt1")], sources=[]) == []
    assert await catalogue.by_external_ids([("letterboxd", "x"), ("tmdb", "many")]) == []


# -- overrides and external ids ------------------------------------------------------------


async def override(database: Database, item: MediaItem, **fields: Any) -> None:
    """An admin's override, and (for the catalogue's own columns) the row updated as the
    media API does."""
    await MediaOverride.create(
        source=item.ref.source, item_id=item.ref.item_id, updated_at=datetime.now(UTC), **fields
    )
    for column in ("title", "year", "imdb", "tmdb", "tvdb"):
        if column in fields:
            await execute(
                database,
                f"UPDATE core_library_item SET {column} = ? WHERE source = ? AND item_id = ?",
                fields[column],
                item.ref.source,
                item.ref.item_id,
            )


async def test_overrides_are_laid_over_and_an_overridden_title_is_searched(
    database: Database, catalogue: Catalogue
) -> None:
    await seed_catalogue(database, FILMS)
    [star_wars, empire] = FILMS[:2]
    await override(database, empire, title="The Empire Strikes Back", year=1981)
    await override(
        database, star_wars, summary="A long time ago.", poster_url="https://img.test/sw.jpg"
    )

    [hit] = await find(catalogue, "empire strikes back")
    assert (hit.item.title, hit.item.year, hit.tier) == (
        "The Empire Strikes Back",
        1981,
        MatchTier.WORDS,
    )
    [exact, *_] = await find(catalogue, "the empire strikes back")
    assert (exact.item.ref.item_id, exact.tier) == ("2", MatchTier.EXACT)
    assert "2" not in {hit.item.ref.item_id for hit in await find(catalogue, "star wars")}

    [first, *_] = await find(catalogue, "star wars")
    assert first.item.summary == "A long time ago."
    assert first.item.images[0].url == "https://img.test/sw.jpg"
    assert first.item.title == "Star Wars"


async def test_items_by_external_ids(database: Database, catalogue: Catalogue) -> None:
    heat = media("Heat", "h1", ids={"imdb": "tt0113277", "tmdb": 949})
    heat_copy = media("Heat", "h2", source=CABIN, ids={"tmdb": 949})
    show = media("Heat Wave", "hw", kind="show", ids={"tvdb": 70001})
    clip = media("Heat trailer", "c1", kind="video", ids={"youtube": "dQw4w9WgXcQ"})
    await seed_catalogue(database, [heat, heat_copy, show, clip, *FILMS])
    await override(database, heat_copy, summary="The cabin's copy.")

    def keys(found: Iterable[MediaItem]) -> set[tuple[str, str]]:
        return {(item.ref.source, item.ref.item_id) for item in found}

    assert keys(await catalogue.by_external_ids([("imdb", "tt0113277")])) == {(HOME, "h1")}
    both = await catalogue.by_external_ids([("tmdb", 949)])
    assert keys(both) == {(HOME, "h1"), (CABIN, "h2")}
    assert {i.ref.item_id: i.summary for i in both}["h2"] == "The cabin's copy."
    assert keys(await catalogue.by_external_ids([("tmdb", "949")], sources=[CABIN])) == {
        (CABIN, "h2")
    }
    assert keys(
        await catalogue.by_external_ids(
            [("tvdb", 70001), ("youtube", "dQw4w9WgXcQ"), ("imdb", "tt0000001")]
        )
    ) == {(HOME, "hw"), (HOME, "c1")}
    # Unknown schemes, and values that cannot be ids of theirs, find nothing and raise nothing.
    assert await catalogue.by_external_ids([("tmdb", "x"), ("tvdb", 2**40), ("rt", "1")]) == []
    assert keys(await catalogue.by_external_ids([("imdb", "'; DROP TABLE x; --")])) == set()


# -- search text is data -------------------------------------------------------------------

ODD = [
    media("100% Wolf", "w"),
    media("M*A*S*H", "m", kind="show"),
    media("Don't Look Up", "d"),
    media("Mr. & Mrs. Smith", "s"),
    media("(500) Days of Summer", "f"),
    media("Airplane!", "a"),
    media("Near Dark", "n"),
    media("Or Else", "o"),
    media("And Then There Were None", "t"),
    media("Not Another Teen Movie", "x"),
    media("Robert'); DROP TABLE core_library_item; --", "b"),
    media("50_50", "u"),
    media("What's Up, Doc?", "q"),
    media("A:B", "c"),
    media('The "Quoted" Title', "k"),
]
NASTY = [
    '"',
    "'",
    "%",
    "_",
    "*",
    "-",
    "^",
    ":",
    "(",
    ")",
    "!",
    "\\",
    "NEAR",
    "OR",
    "AND",
    "NOT",
    "near dark",
    "NEAR(near dark)",
    "or else",
    "and then",
    "not another",
    "'; DROP TABLE core_library_item; --",
    "robert'); drop table",
    "100%",
    "100% wolf",
    "100%%",
    "%wolf",
    "50_50",
    "50_",
    "5_",
    "airplane!",
    "airplane!!",
    "!airplane",
    "m*a*s*h",
    "m*",
    "*a*",
    "don't",
    '"quoted',
    'quoted"',
    'the "quoted" title',
    "a:b",
    "title:star",
    "^near",
    "-dark",
    "near -dark",
    "mr. & mrs.",
    "(500)",
    "what's up, doc?",
    "up doc",
    "\x00near",
    "near\ud800",
]


async def test_search_text_is_data(database: Database, catalogue: Catalogue) -> None:
    items = [*ODD, *FILMS]
    await seed_catalogue(database, items)

    for text in NASTY:
        request = SearchRequest(text=text)
        hits = await catalogue.search(request, list(SOURCES), 50)
        assert refs(hits) == expected(items, request, SOURCES, 50), text

    assert titles(await find(catalogue, "100%")) == ["100% Wolf"]
    assert [hit.tier for hit in await find(catalogue, "100%")] == [MatchTier.PREFIX]
    assert titles(await find(catalogue, "airplane!")) == ["Airplane!"]
    assert [hit.tier for hit in await find(catalogue, "airplane!")] == [MatchTier.EXACT]
    # "_" only separates words: both words "50" start a word of "(500) Days of Summer".
    assert [(hit.item.title, hit.tier) for hit in await find(catalogue, "50_50")] == [
        ("50_50", MatchTier.EXACT),
        ("(500) Days of Summer", MatchTier.WORDS),
    ]
    assert await find(catalogue, "%") == []
    assert await find(catalogue, "_") == []
    assert await LibraryItem.all().count() == len(items)


# -- the shared rules, on a generated library ----------------------------------------------


def generated(size: int) -> list[MediaItem]:
    """A generated library without its few odd titles (accents, "9-1-1": tokenizers differ
    from the shared rule there, see the module of the catalogue)."""
    return [
        item for item in library(size, seed=3) if item.title.isascii() and "-" not in item.title
    ]


async def test_every_returned_tier_is_the_shared_rules_tier(
    database: Database, catalogue: Catalogue
) -> None:
    items = generated(3000)
    await seed_catalogue(database, items)

    checked = 0
    for search in searches(items, 300, seed=8):
        hits = await catalogue.search(search.request, list(SOURCES), 61)
        for hit in hits:
            assert hit.tier == match_tier(search.request, hit.item.title), (
                search.request.text,
                hit.item.title,
            )
            checked += 1
    assert checked > 1500


@pytest.mark.parametrize(
    ("indexes", "threshold"),
    [("search", None), ("none", None), ("search", 4), ("none", 4)],
)
async def test_the_same_hits_as_the_shared_rules_walked_or_sorted(
    database: Database,
    catalogue: Catalogue,
    monkeypatch: pytest.MonkeyPatch,
    indexes: str,
    threshold: int | None,
) -> None:
    """Common words walk the ranked items, rare ones sort their matches; a low threshold
    makes nearly every part walk, most of them to their bound and then sort after all:
    always the hits the rules rank first."""
    items = generated(4000)
    await seed_catalogue(database, items)
    if indexes == "none":
        await drop_search_indexes(database)
    if threshold is not None:
        monkeypatch.setattr(catalogue_module, "_walk_threshold", lambda limit: threshold)

    common = ["the", "a", "of", "love", "night", "the a", "of the", "season", "episode 1"]
    requests = [search.request for search in searches(items, 60, seed=21)]
    requests += [SearchRequest(text=text) for text in common]
    requests += [
        SearchRequest(text="episode", kinds=frozenset({MediaKind.EPISODE})),
        SearchRequest(text="episode 1", kinds=frozenset({MediaKind.EPISODE, MediaKind.MOVIE})),
        SearchRequest(text="the", year=2020),
        SearchRequest(text="the", kinds=frozenset({MediaKind.ARTIST, MediaKind.ALBUM})),
    ]
    for request in requests:
        for limit in (3, 25):
            for sources in (SOURCES, (HOME, DEN)):
                hits = await catalogue.search(request, list(sources), limit)
                assert refs(hits) == expected(items, request, sources, limit), (
                    request.text,
                    request.kinds,
                    request.year,
                    limit,
                    sources,
                )
