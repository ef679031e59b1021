"""Merging finds into hits: one hit per work across sources, ranked, with its library copies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from medianest.core.search.merge import Merger, lookup_keys, match_keys
from medianest.core.search.query import (
    DEFAULT_KINDS,
    MatchTier,
    SearchRequest,
    match_tier,
    words_of,
)
from medianest.sdk.models import MediaItem, MediaKind

LIBRARY = ("plex:home", "plex:cabin")


def item(source: str, item_id: str, title: str, **fields: Any) -> MediaItem:
    return MediaItem.model_validate(
        {"kind": "movie", "title": title, "ref": {"source": source, "item_id": item_id}, **fields}
    )


def test_the_same_film_in_three_sources_is_one_hit_available_in_the_libraries() -> None:
    merger = Merger(LIBRARY)
    merger.add(item("plex:home", "1", "Heat", year=1995, ids={"imdb": "tt0113277"}), 0)
    merger.add(item("plex:cabin", "9", "Heat", year=1995, ids={"imdb": "tt0113277"}), 0)
    merger.add(item("discover", "h", "Heat", ids={"imdb": "tt0113277", "tmdb": 949}), 0)
    [hit] = merger.hits()
    assert {m.ref.source for m in hit.members} == {"plex:home", "plex:cabin", "discover"}
    assert hit.available
    assert hit.representative.ref.source in LIBRARY


def test_ids_join_transitively_and_tmdb_ids_only_within_a_kind() -> None:
    merger = Merger(LIBRARY)
    merger.add(item("plex:home", "1", "Alien", ids={"imdb": "tt0078748"}), 0)
    merger.add(item("discover", "d", "Alien", ids={"tmdb": 348}), 0)
    # The bridge: carries both ids, so the two hits above become one.
    merger.add(item("other", "o", "Alien", ids={"imdb": "tt0078748", "tmdb": 348}), 0)
    show = item("discover", "s", "Alien", ids={"tmdb": 348}).model_copy(
        update={"kind": MediaKind.SHOW}
    )
    merger.add(show, 0)
    hits = merger.hits()
    assert len(hits) == 2
    sizes = sorted(len(hit.members) for hit in hits)
    assert sizes == [1, 3]


def test_items_without_ids_stand_alone_and_a_repeat_is_ignored() -> None:
    merger = Merger(LIBRARY)
    first = item("plex:home", "1", "Home Video")
    merger.add(first, 2)
    merger.add(first, 0)
    merger.add(item("plex:cabin", "1", "Home Video"), 2)
    hits = merger.hits()
    assert len(hits) == 2
    assert hits[0].tier == 0


def test_copies_join_hits_but_never_make_one() -> None:
    merger = Merger(LIBRARY)
    merger.add(item("discover", "d", "Arrival", ids={"tmdb": 329865}), 0)
    merger.add_copy(item("plex:home", "5", "L'Arrivée", ids={"tmdb": 329865}))
    merger.add_copy(item("plex:home", "6", "Unrelated", ids={"tmdb": 1}))
    [hit] = merger.hits()
    assert hit.available
    assert hit.representative.title == "L'Arrivée"
    assert lookup_keys(hit.members) == [("tmdb", 329865)]


def test_hits_rank_by_tier_then_newer_first() -> None:
    merger = Merger(LIBRARY)
    added = datetime(2024, 1, 1, tzinfo=UTC)
    merger.add(item("plex:home", "1", "Dune Part Two", year=2024), MatchTier.PREFIX)
    merger.add(item("plex:home", "2", "Dune", year=1984), MatchTier.EXACT)
    merger.add(item("plex:home", "3", "Dune", year=2021, added_at=added), MatchTier.EXACT)
    merger.add(item("live", "x", "The Dune Saga", year=2030), MatchTier.WORDS)
    order = [hit.members[0].ref.item_id for hit in merger.hits()]
    assert order == ["3", "2", "1", "x"]


def test_match_tiers_and_words() -> None:
    request = SearchRequest(text="  Star   WA ")
    assert request.words == ["star", "wa"]
    assert match_tier(request, "Star Wa") == MatchTier.EXACT
    assert match_tier(request, "star wars") == MatchTier.PREFIX
    assert match_tier(request, "The Star Wars Holiday Special") == MatchTier.WORDS
    assert match_tier(request, "Wall Star") == MatchTier.WORDS
    assert match_tier(request, "Starship") is None
    assert words_of("100% O'Brien_x * NEAR(a b)") == ["100", "o", "brien", "x", "near", "a", "b"]
    assert match_tier(SearchRequest(text="%"), "100% Wolf") is None
    assert MediaKind.EPISODE not in DEFAULT_KINDS and MediaKind.MOVIE in DEFAULT_KINDS


def test_a_fingerprint_ignores_the_page_and_case_but_not_filters() -> None:
    base = SearchRequest(text="Heat")
    assert base.fingerprint() == SearchRequest(text="heat ", offset=20, limit=5).fingerprint()
    assert base.fingerprint() != SearchRequest(text="heat", year=1995).fingerprint()
    assert base.fingerprint() != SearchRequest(text="heat", sources=frozenset({"a"})).fingerprint()


def test_match_keys() -> None:
    film = item("plex:home", "1", "Heat", ids={"imdb": "tt0113277", "tmdb": 949, "tvdb": 5})
    assert match_keys(film) == [
        ("imdb", "tt0113277"),
        ("movie", "tmdb", "949"),
        ("movie", "tvdb", "5"),
    ]
