"""Plex metadata JSON → SDK MediaItem."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from medianest.sdk import MediaKind, UpstreamDataError
from medianest_plex.mapping import ItemMapper, external_ids

SERVER = "http://127.0.0.1:32400"


@pytest.fixture
def mapper() -> ItemMapper:
    return ItemMapper("plex:home", SERVER, "abc123")


def movie(**overrides: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "ratingKey": "101",
        "key": "/library/metadata/101",
        "guid": "plex://movie/5d7768ba96b655001fdc0408",
        "type": "movie",
        "title": "The Silent Harbor",
        "year": 1999,
        "summary": "A retired detective returns.",
        "thumb": "/library/metadata/101/thumb/1600000000",
        "art": "/library/metadata/101/art/1600000000",
        "duration": 8_160_400,
        "addedAt": 1_600_000_000,
        "updatedAt": 1_600_000_500,
        "librarySectionID": 1,
        "Guid": [{"id": "imdb://tt0133093"}, {"id": "tmdb://603"}, {"id": "tvdb://169"}],
    }
    raw.update(overrides)
    return raw


def test_movie_maps_every_field(mapper: ItemMapper) -> None:
    item = mapper.map(movie())
    assert item.kind == MediaKind.MOVIE
    assert item.title == "The Silent Harbor"
    assert item.ref.source == "plex:home" and item.ref.item_id == "101"
    assert item.ref.url is not None and "abc123" in item.ref.url
    assert item.year == 1999
    assert item.summary == "A retired detective returns."
    assert (item.ids.imdb, item.ids.tmdb, item.ids.tvdb) == ("tt0133093", 603, 169)
    assert item.added_at == datetime(2020, 9, 13, 12, 26, 40, tzinfo=UTC)
    assert item.updated_at is not None and item.updated_at.tzinfo is not None
    assert item.duration_seconds == 8160
    assert item.parent is None
    assert item.extra["guid"].startswith("plex://movie/")
    assert item.extra["section_id"] == "1"


def test_images_are_server_urls_without_a_token(mapper: ItemMapper) -> None:
    item = mapper.map(movie())
    assert [(i.kind, i.url) for i in item.images] == [
        ("poster", f"{SERVER}/library/metadata/101/thumb/1600000000"),
        ("backdrop", f"{SERVER}/library/metadata/101/art/1600000000"),
    ]
    assert all("X-Plex-Token" not in i.url for i in item.images)


def test_absolute_image_urls_are_kept(mapper: ItemMapper) -> None:
    item = mapper.map(movie(thumb="https://metadata-static.plex.tv/a.jpg", art=None))
    assert [i.url for i in item.images] == ["https://metadata-static.plex.tv/a.jpg"]


def test_episode_points_at_its_season_and_keeps_show_details(mapper: ItemMapper) -> None:
    raw = {
        "ratingKey": 205,
        "type": "episode",
        "title": "The Harbor",
        "index": 2,
        "parentIndex": 1,
        "parentRatingKey": "204",
        "grandparentRatingKey": "203",
        "grandparentTitle": "Ravenmoor",
        "thumb": "/library/metadata/205/thumb/1",
        "Guid": [{"id": "tvdb://4000001"}],
    }
    item = mapper.map(raw)
    assert item.kind == MediaKind.EPISODE
    assert item.ref.item_id == "205"
    assert item.parent is not None and item.parent.item_id == "204"
    assert item.index == 2
    assert item.extra["season_number"] == 1
    assert item.extra["show_id"] == "203"
    assert item.extra["show_title"] == "Ravenmoor"
    assert item.ids.tvdb == 4000001
    assert item.images[0].kind == "thumbnail"


def test_untitled_season_gets_a_title_from_its_index(mapper: ItemMapper) -> None:
    season = mapper.map({"ratingKey": "7", "type": "season", "title": "", "index": 0})
    assert season.title == "Specials"
    season = mapper.map({"ratingKey": "8", "type": "season", "index": 3, "parentRatingKey": "6"})
    assert season.title == "Season 3" and season.parent is not None


@pytest.mark.parametrize(
    ("guid", "expected"),
    [
        ("com.plexapp.agents.imdb://tt0123456?lang=en", {"imdb": "tt0123456"}),
        ("com.plexapp.agents.themoviedb://603?lang=en", {"tmdb": 603}),
        ("com.plexapp.agents.thetvdb://12345?lang=en", {"tvdb": 12345}),
    ],
)
def test_legacy_guid_of_a_work_gives_its_own_id(
    mapper: ItemMapper, guid: str, expected: dict[str, object]
) -> None:
    item = mapper.map(movie(guid=guid, Guid=None))
    assert item.ids.model_dump(exclude_none=True) == expected


def test_legacy_episode_guid_names_the_show_not_the_episode(mapper: ItemMapper) -> None:
    raw = {
        "ratingKey": "9",
        "type": "episode",
        "title": "Pilot",
        "index": 2,
        "guid": "com.plexapp.agents.thetvdb://12345/1/2?lang=en",
    }
    item = mapper.map(raw)
    assert item.ids.is_empty()
    assert item.extra["show_ids"] == {"tvdb": 12345}


def test_guid_list_wins_over_legacy_guid_and_bad_values_are_ignored() -> None:
    ids, show_ids = external_ids(
        {
            "guid": "com.plexapp.agents.imdb://tt0000001?lang=en",
            "Guid": [{"id": "imdb://tt7654321"}, {"id": "tmdb://abc"}, {"id": "anidb://5"}, {}],
        }
    )
    assert ids.imdb == "tt7654321" and ids.tmdb is None
    assert show_ids == {}


def test_item_without_tmdb_keeps_its_other_ids(mapper: ItemMapper) -> None:
    item = mapper.map(movie(Guid=[{"id": "imdb://tt1234567"}, {"id": "tvdb://42"}]))
    assert (item.ids.imdb, item.ids.tmdb, item.ids.tvdb) == ("tt1234567", None, 42)


def test_local_item_has_no_ids(mapper: ItemMapper) -> None:
    item = mapper.map(movie(guid="local://101", Guid=None))
    assert item.ids.is_empty()


def test_out_of_range_year_is_dropped(mapper: ItemMapper) -> None:
    assert mapper.map(movie(year=0)).year is None


def test_no_machine_identifier_means_no_link() -> None:
    item = ItemMapper("plex:home", SERVER).map(movie())
    assert item.ref.url is None


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("not an object", "Plex item ? of plex:home is not a JSON object"),
        (movie(ratingKey=None), "has no valid ratingKey"),
        (movie(ratingKey="../etc"), "has no valid ratingKey"),
        (movie(type="photo"), "Plex item 101 of plex:home has an unsupported type 'photo'"),
        (movie(title=""), "Plex item 101 of plex:home does not fit the expected shape: title"),
        (movie(addedAt="yesterday"), "Plex item 101 of plex:home does not fit"),
        (movie(Guid="imdb://tt1"), "Plex item 101 of plex:home does not fit"),
        (movie(summary=42), "summary is not a string"),
    ],
)
def test_malformed_items_raise_data_errors_naming_the_rating_key(
    mapper: ItemMapper, raw: object, fragment: str
) -> None:
    with pytest.raises(UpstreamDataError) as caught:
        mapper.map(raw)
    assert fragment in caught.value.message
    assert caught.value.plugin == "plex"
    assert caught.value.source == "plex:home"
