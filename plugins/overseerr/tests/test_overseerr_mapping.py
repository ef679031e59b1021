"""Overseerr's JSON as SDK models."""

from __future__ import annotations

import pytest
from overseerr_testkit import request_json

from medianest.sdk import MediaKind, RequestStatus
from medianest_overseerr.mapping import (
    BadShape,
    parse_item_id,
    request_status,
    to_item,
    to_request,
)


@pytest.mark.parametrize(
    ("request_code", "media_code", "expected"),
    [
        (1, 2, RequestStatus.PENDING),
        (1, 5, RequestStatus.PENDING),
        (2, 2, RequestStatus.APPROVED),
        (2, 3, RequestStatus.PROCESSING),
        (2, 4, RequestStatus.PROCESSING),
        (2, 5, RequestStatus.AVAILABLE),
        (3, 2, RequestStatus.DECLINED),
        (4, 3, RequestStatus.FAILED),
        (5, 3, RequestStatus.AVAILABLE),
    ],
)
def test_request_and_media_status_make_one_status(
    request_code: int, media_code: int, expected: RequestStatus
) -> None:
    assert request_status(request_code, media_code) is expected


def test_an_unknown_request_status_is_bad_data() -> None:
    with pytest.raises(BadShape, match="request status 9"):
        request_status(9, 1)


def test_a_request_maps_with_ids_person_and_times() -> None:
    raw = request_json(12, status=2, media_status=5, media_type="tv", tmdb=1399, tvdb=121361)
    raw["media"]["imdbId"] = "tt0944947"
    raw["seasons"] = [{"id": 1, "seasonNumber": 2, "status": 2}, {"id": 2, "seasonNumber": 1}]
    mapped = to_request("overseerr:home", raw, title="Game of Thrones")
    assert mapped.request_id == "12" and mapped.kind is MediaKind.SHOW
    assert (mapped.ids.tmdb, mapped.ids.tvdb, mapped.ids.imdb) == (1399, 121361, "tt0944947")
    assert mapped.status is RequestStatus.AVAILABLE
    assert mapped.requested_by == "Person 2" and mapped.title == "Game of Thrones"
    assert mapped.seasons == (1, 2)
    assert mapped.created_at is not None and mapped.created_at.tzinfo is not None


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"id": None}, "no id"),
        ({"media": "x"}, "media is not a JSON object"),
        ({"type": "music"}, "not movie or tv"),
    ],
)
def test_misshapen_requests_say_what_is_wrong(change: dict[str, object], words: str) -> None:
    raw = request_json(3) | change
    if change.get("type"):
        raw["media"]["mediaType"] = change["type"]
    with pytest.raises(BadShape, match=words):
        to_request("overseerr:home", raw)


def test_search_results_map_movies_and_shows_and_skip_people() -> None:
    movie = {
        "id": 603,
        "mediaType": "movie",
        "title": "The Matrix",
        "releaseDate": "1999-03-30",
        "posterPath": "/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg",
        "overview": "Welcome to the Real World.",
        "mediaInfo": {"status": 5, "tmdbId": 603, "imdbId": "tt0133093"},
    }
    show = {"id": 1399, "mediaType": "tv", "name": "Game of Thrones", "firstAirDate": "2011-04-17"}
    person = {"id": 6384, "mediaType": "person", "name": "Keanu Reeves"}
    mapped = to_item("overseerr:home", movie)
    assert mapped is not None and mapped.kind is MediaKind.MOVIE
    assert mapped.ref.item_id == "movie:603" and mapped.year == 1999
    assert (mapped.ids.tmdb, mapped.ids.imdb) == (603, "tt0133093")
    assert mapped.images[0].url == "https://image.tmdb.org/t/p/w500/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg"
    assert mapped.extra["requestable"] is False
    tv = to_item("overseerr:home", show)
    assert tv is not None and tv.kind is MediaKind.SHOW and tv.extra["requestable"] is True
    assert to_item("overseerr:home", person) is None


def test_item_ids_round_trip_and_refuse_others() -> None:
    assert parse_item_id("movie:603") == ("movie", 603)
    assert parse_item_id("tv:1399") == ("tv", 1399)
    for other in ("999999999", "movie:0", "person:1", "tv:abc", "movie:" + "9" * 20):
        assert parse_item_id(other) is None
