"""The live-search source: Overseerr's (TMDB's) search as SDK media items."""

from __future__ import annotations

import pytest
from overseerr_testkit import SpecCheckingTransport

from medianest.sdk import MediaKind, SearchQuery
from medianest.sdk.errors import NotFoundError
from medianest_overseerr.simulator import OverseerrWorld
from medianest_overseerr.source import OverseerrMediaSource


def two_word_title(world: OverseerrWorld, media_type: str) -> str:
    return next(
        t.title
        for t in world.catalogue.requestable_only()
        if t.media_type == media_type and " " in t.title
    )


async def test_search_finds_requestable_titles_with_their_ids(
    source: OverseerrMediaSource, recorder: SpecCheckingTransport, overseerr_world: OverseerrWorld
) -> None:
    text = two_word_title(overseerr_world, "movie")
    found = await source.search(SearchQuery(text=text, limit=5))
    (search,) = recorder.calls("GET", "/api/v1/search")
    assert b"%20" in search.url.query and b"+" not in search.url.query
    hit = next(item for item in found if item.title == text)
    title = next(t for t in overseerr_world.catalogue.requestable_only() if t.title == text)
    assert hit.kind is MediaKind.MOVIE and hit.ref.item_id == f"movie:{title.tmdb}"
    assert hit.ids.tmdb == title.tmdb and hit.year == title.year
    assert hit.extra["requestable"] is True
    assert hit.images and hit.images[0].url.startswith("https://image.tmdb.org/t/p/")
    assert all(item.kind in (MediaKind.MOVIE, MediaKind.SHOW) for item in found)


async def test_titles_in_plex_carry_the_same_ids_and_are_not_requestable(
    source: OverseerrMediaSource, overseerr_world: OverseerrWorld
) -> None:
    title = next(t for t in overseerr_world.catalogue.in_plex() if t.media_type == "movie")
    found = await source.search(SearchQuery(text=title.title, limit=20))
    hit = next(item for item in found if item.ids.tmdb == title.tmdb)
    assert hit.extra["requestable"] is False and hit.extra["overseerr_status"] == "available"


async def test_search_honours_kinds_year_and_limit(
    source: OverseerrMediaSource, overseerr_world: OverseerrWorld
) -> None:
    shows = await source.search(SearchQuery(text="the", kinds=frozenset({MediaKind.SHOW})))
    assert shows and all(item.kind is MediaKind.SHOW for item in shows)
    assert len(await source.search(SearchQuery(text="the", limit=2))) <= 2
    assert await source.search(SearchQuery(text="the", kinds=frozenset({MediaKind.TRACK}))) == []
    year = shows[0].year
    dated = await source.search(SearchQuery(text="the", year=year))
    assert all(item.year == year for item in dated)


async def test_get_item_reads_details_with_ids_and_seasons(
    source: OverseerrMediaSource, overseerr_world: OverseerrWorld
) -> None:
    title = next(t for t in overseerr_world.catalogue.requestable_only() if t.media_type == "tv")
    item = await source.get_item(f"tv:{title.tmdb}")
    assert item.kind is MediaKind.SHOW and item.title == title.title
    assert item.ids.tmdb == title.tmdb and item.ids.tvdb == title.tvdb
    assert [s["number"] for s in item.extra["seasons"]] == title.season_numbers()
    movie = next(t for t in overseerr_world.catalogue.in_plex() if t.media_type == "movie")
    detailed = await source.get_item(f"movie:{movie.tmdb}")
    assert detailed.ids.imdb == movie.imdb and detailed.ref.item_id == f"movie:{movie.tmdb}"


@pytest.mark.parametrize("item_id", ["movie:999999999", "tv:999999998", "person:1", "603"])
async def test_unknown_titles_are_not_found(source: OverseerrMediaSource, item_id: str) -> None:
    with pytest.raises(NotFoundError):
        await source.get_item(item_id)
