"""The JSON shapes Overseerr answers with: users, media, requests, search results, details.

Shapes carry the real server's keys (more than the spec lists, see ``api-facts`` §3.2) and
always validate against the spec's response schemas: a key the spec types as a non-nullable
string is left out rather than sent as ``null``.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from medianest_overseerr.simulator.catalogue import MOVIE, TV, Title
from medianest_overseerr.simulator.world import (
    Media,
    MediaRequest,
    MediaStatus,
    OverseerrWorld,
    User,
)
from medianest_plex.simulator import data


def iso(epoch: int | None) -> str | None:
    """``2020-09-12T10:00:27.000Z``."""
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def user_json(world: OverseerrWorld, user: User) -> dict[str, Any]:
    """A ``User`` as ``/user``, ``/auth/me`` and requests embed it."""
    out: dict[str, Any] = {
        "permissions": user.permissions,
        "id": user.id,
        "email": user.email,
        "plexUsername": user.plex_username or "",
        "username": user.username or "",
        "recoveryLinkExpirationDate": None,
        "userType": int(user.user_type),
        "plexId": user.plex_id,
        "avatar": user.avatar,
        "movieQuotaLimit": user.movie_quota_limit,
        "movieQuotaDays": user.movie_quota_days,
        "tvQuotaLimit": user.tv_quota_limit,
        "tvQuotaDays": user.tv_quota_days,
        "createdAt": iso(user.created_at),
        "updatedAt": iso(user.updated_at),
        "requestCount": world.request_count_of(user),
        "displayName": user.display_name,
    }
    return out


def media_json(
    media: Media, *, with_requests: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A ``MediaInfo``."""
    title = media.title
    out: dict[str, Any] = {
        "downloadStatus": [],
        "downloadStatus4k": [],
        "id": media.id,
        "mediaType": title.media_type,
        "tmdbId": title.tmdb,
        "tvdbId": title.tvdb if title.media_type == TV else None,
        "imdbId": title.imdb,
        "status": int(media.status),
        "status4k": int(MediaStatus.UNKNOWN),
        "createdAt": iso(media.created_at),
        "updatedAt": iso(media.updated_at),
        "lastSeasonChange": iso(media.last_season_change),
        "mediaAddedAt": iso(media.media_added_at),
        "serviceId": None,
        "serviceId4k": None,
        "externalServiceId": None,
        "externalServiceId4k": None,
        "externalServiceSlug": None,
        "externalServiceSlug4k": None,
        "ratingKey": media.rating_key,
        "ratingKey4k": None,
    }
    if title.media_type == TV:
        out["seasons"] = [
            {
                "id": media.id * 100 + number,
                "seasonNumber": number,
                "status": int(status),
                "status4k": int(MediaStatus.UNKNOWN),
                "createdAt": iso(media.created_at),
                "updatedAt": iso(media.last_season_change),
            }
            for number, status in sorted(media.season_status.items())
        ]
    if media.rating_key is not None:
        out["plexUrl"] = (
            f"https://app.plex.tv/desktop#!/server/sim/details?key=%2Flibrary%2Fmetadata%2F"
            f"{media.rating_key}"
        )
    if with_requests is not None:
        out["requests"] = with_requests
    return out


def request_json(
    world: OverseerrWorld, req: MediaRequest, *, with_media: bool = True
) -> dict[str, Any]:
    """A ``MediaRequest``."""
    is_movie = req.media_type == MOVIE
    out: dict[str, Any] = {
        "id": req.id,
        "status": int(req.status),
        "createdAt": iso(req.created_at),
        "updatedAt": iso(req.updated_at),
        "type": req.media_type,
        "is4k": False,
        "serverId": 0,
        "profileId": 4 if is_movie else 6,
        "rootFolder": "/data/movies" if is_movie else "/data/tv",
        "languageProfileId": None if is_movie else 1,
        "tags": [],
        "isAutoRequest": False,
        "requestedBy": user_json(world, req.requested_by),
        "modifiedBy": user_json(world, req.modified_by) if req.modified_by else None,
        "seasons": [
            {
                "id": req.id * 100 + number,
                "seasonNumber": number,
                "status": int(req.season_status.get(number, req.status)),
                "createdAt": iso(req.created_at),
                "updatedAt": iso(req.updated_at),
            }
            for number in req.seasons
        ],
        "seasonCount": len(req.seasons) if not is_movie else 0,
    }
    if with_media:
        out["media"] = media_json(req.media)
    return out


def media_info_for(world: OverseerrWorld, title: Title) -> dict[str, Any] | None:
    """``mediaInfo`` of a search hit or details page (with its requests), or ``None``."""
    media = world.media_for(title)
    if media is None:
        return None
    return media_json(
        media, with_requests=[request_json(world, r, with_media=False) for r in media.requests]
    )


def _genres(title: Title) -> list[dict[str, Any]]:
    first = (title.ident >> 21) % len(data.GENRES)
    second = (title.ident >> 27) % len(data.GENRES)
    picks = sorted({first, second})
    return [{"id": 10_000 + i, "name": data.GENRES[i]} for i in picks]


def search_result(world: OverseerrWorld, title: Title) -> dict[str, Any]:
    """A ``MovieResult`` or ``TvResult``."""
    common: dict[str, Any] = {
        "id": title.tmdb,
        "mediaType": title.media_type,
        "adult": False,
        "genreIds": [g["id"] for g in _genres(title)],
        "originalLanguage": "en",
        "overview": title.overview,
        "popularity": title.popularity,
        "posterPath": title.poster_path,
        "backdropPath": title.backdrop_path,
        "voteAverage": round(4 + (title.ident >> 5) % 57 / 10, 1),
        "voteCount": 10 + (title.ident >> 15) % 20_000,
    }
    if title.media_type == MOVIE:
        common.update(
            title=title.title,
            originalTitle=title.title,
            releaseDate=title.release_date,
            video=False,
        )
    else:
        common.update(
            name=title.title,
            originalName=title.title,
            firstAirDate=title.release_date,
            originCountry=["US"],
        )
    info = media_info_for(world, title)
    if info is not None:
        common["mediaInfo"] = info
    return common


def _credits(title: Title) -> dict[str, Any]:
    cast = [
        {
            "id": 500_000 + (title.ident >> (3 * n)) % 400_000,
            "castId": n + 1,
            "character": data.person_name(title.ident >> (5 * n + 1)),
            "creditId": data.hex_id(title.ident + n, 24),
            "gender": 1 + n % 2,
            "name": data.person_name(title.ident >> (4 * n)),
            "order": n,
            "profilePath": None,
        }
        for n in range(3)
    ]
    crew = [
        {
            "id": 900_000 + (title.ident >> 9) % 90_000,
            "creditId": data.hex_id(title.ident ^ 0xC0, 24),
            "gender": 2,
            "name": data.person_name(title.ident >> 23),
            "job": "Director",
            "department": "Directing",
            "profilePath": None,
        }
    ]
    return {"cast": cast, "crew": crew}


def _keywords(title: Title) -> list[dict[str, Any]]:
    noun = data.pick(data.NOUNS, title.ident >> 33).lower()
    return [{"id": 20_000 + (title.ident >> 33) % len(data.NOUNS), "name": noun}]


def movie_details(world: OverseerrWorld, title: Title) -> dict[str, Any]:
    """``MovieDetails``."""
    out: dict[str, Any] = {
        "id": title.tmdb,
        "imdbId": title.imdb,
        "adult": False,
        "backdropPath": title.backdrop_path,
        "posterPath": title.poster_path,
        "budget": 1_000_000 * (1 + (title.ident >> 12) % 150),
        "genres": _genres(title),
        "homepage": "",
        "relatedVideos": [],
        "originalLanguage": "en",
        "originalTitle": title.title,
        "overview": title.overview,
        "popularity": title.popularity,
        "productionCompanies": [
            {
                "id": 30_000 + (title.ident >> 40) % 8,
                "logoPath": None,
                "originCountry": "US",
                "name": data.pick(data.STUDIOS, title.ident >> 40),
            }
        ],
        "productionCountries": [{"iso_3166_1": "US", "name": "United States of America"}],
        "releaseDate": title.release_date,
        "revenue": 2_000_000 * ((title.ident >> 14) % 400),
        "runtime": 80 + (title.ident >> 19) % 80,
        "spokenLanguages": [{"englishName": "English", "iso_639_1": "en", "name": "English"}],
        "status": "Released",
        "tagline": data.pick(data.TAGLINES, title.ident >> 40),
        "title": title.title,
        "video": False,
        "voteAverage": round(4 + (title.ident >> 5) % 57 / 10, 1),
        "voteCount": 10 + (title.ident >> 15) % 20_000,
        "credits": _credits(title),
        "externalIds": {
            "facebookId": None,
            "imdbId": title.imdb,
            "instagramId": None,
            "twitterId": None,
        },
        "keywords": _keywords(title),
        "watchProviders": [],
    }
    info = media_info_for(world, title)
    if info is not None:
        out["mediaInfo"] = info
    return out


def _season_air_date(title: Title, number: int) -> str:
    year = min(title.year + number - 1, 2025)
    return f"{year:04d}-{1 + (title.ident >> 9) % 12:02d}-{1 + (title.ident >> 13) % 28:02d}"


def season_summary(title: Title, number: int, episodes: int) -> dict[str, Any]:
    """A ``Season`` without its episodes."""
    return {
        "id": 1_000_000 + (title.tmdb * 31 + number) % 9_000_000,
        "airDate": _season_air_date(title, number),
        "episodeCount": episodes,
        "name": f"Season {number}" if number else "Specials",
        "overview": "",
        "posterPath": f"/{data.hex_id(title.ident + number, 27)}.jpg",
        "seasonNumber": number,
    }


def episode_json(title: Title, number: int, episode: int) -> dict[str, Any]:
    """An ``Episode``."""
    ident = data.mix(title.ident, number, episode)
    return {
        "id": 2_000_000 + ident % 90_000_000,
        "name": data.episode_title(ident),
        "airDate": _season_air_date(title, number),
        "episodeNumber": episode,
        "overview": data.summary(ident, ident >> 5),
        "productionCode": "",
        "seasonNumber": number,
        "showId": title.tmdb,
        "stillPath": f"/{data.hex_id(ident, 27)}.jpg",
        "voteAverage": round(5 + ident % 45 / 10, 1),
        "voteCount": ident % 500,
    }


def season_details(title: Title, number: int) -> dict[str, Any] | None:
    """A ``Season`` with its episodes, or ``None`` when the show has no such season."""
    for season, episodes in title.seasons:
        if season == number:
            out = season_summary(title, season, episodes)
            out["episodes"] = [episode_json(title, season, e) for e in range(1, episodes + 1)]
            return out
    return None


def tv_details(world: OverseerrWorld, title: Title) -> dict[str, Any]:
    """``TvDetails``."""
    seasons = [season_summary(title, n, e) for n, e in title.seasons]
    last_season, last_count = title.seasons[-1] if title.seasons else (1, 1)
    ended = (title.ident >> 6) % 3 != 0
    out: dict[str, Any] = {
        "id": title.tmdb,
        "backdropPath": title.backdrop_path,
        "posterPath": title.poster_path,
        "contentRatings": {
            "results": [
                {"iso_3166_1": "US", "rating": data.pick(data.CONTENT_RATINGS_TV, title.ident >> 8)}
            ]
        },
        "createdBy": [
            {
                "id": 700_000 + (title.ident >> 11) % 99_999,
                "name": data.person_name(title.ident >> 11),
                "gender": 1,
                "profilePath": None,
            }
        ],
        "episodeRunTime": [30 + (title.ident >> 4) % 4 * 10],
        "firstAirDate": title.release_date,
        "genres": _genres(title),
        "homepage": "",
        "inProduction": not ended,
        "languages": ["en"],
        "lastAirDate": _season_air_date(title, last_season),
        "lastEpisodeToAir": episode_json(title, last_season, last_count),
        "name": title.title,
        "networks": [
            {
                "id": 40_000 + (title.ident >> 44) % 5,
                "logoPath": None,
                "originCountry": "US",
                "name": data.pick(data.NETWORKS, title.ident >> 44),
            }
        ],
        "numberOfEpisodes": sum(e for _, e in title.seasons),
        "numberOfSeason": len(title.seasons),
        "numberOfSeasons": len(title.seasons),
        "originCountry": ["US"],
        "originalLanguage": "en",
        "originalName": title.title,
        "overview": title.overview,
        "popularity": title.popularity,
        "productionCompanies": [],
        "productionCountries": [{"iso_3166_1": "US", "name": "United States of America"}],
        "spokenLanguages": [{"englishName": "English", "iso_639_1": "en", "name": "English"}],
        "seasons": seasons,
        "status": "Ended" if ended else "Returning Series",
        "tagline": "",
        "type": "Scripted",
        "voteAverage": round(4 + (title.ident >> 5) % 57 / 10, 1),
        "voteCount": 10 + (title.ident >> 15) % 20_000,
        "credits": _credits(title),
        "externalIds": {
            "facebookId": None,
            "imdbId": title.imdb,
            "instagramId": None,
            "tvdbId": title.tvdb,
            "tvrageId": None,
            "twitterId": None,
        },
        "keywords": _keywords(title),
        "watchProviders": [],
    }
    info = media_info_for(world, title)
    if info is not None:
        out["mediaInfo"] = info
    return out


def page_info(total: int, take: int, skip: int) -> dict[str, Any]:
    """The real server's ``pageInfo`` (with ``pageSize``)."""
    return {
        "pages": math.ceil(total / take) if take else 0,
        "pageSize": take,
        "results": total,
        "page": math.ceil(skip / take) + 1 if take else 1,
    }
