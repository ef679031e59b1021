"""Overseerr's JSON as SDK models: requests, search results and title details.

Pure functions, no I/O. Anything that does not have the shape Overseerr's OpenAPI document
gives raises :class:`BadShape` with what was wrong; callers turn it into an
``UpstreamDataError`` naming the instance and the call.

Request status: Overseerr keeps two numbers, the request's (1 pending, 2 approved,
3 declined, 4 failed; Seerr adds 5 completed) and its media's (3 processing, 4 partially
available, 5 available). They become one :class:`~medianest.sdk.RequestStatus`:

====================  ==================  ==============
request.status        media.status        RequestStatus
====================  ==================  ==============
1                     any                 pending
3                     any                 declined
4                     any                 failed
2 or 5                5                   available
2 or 5                3 or 4              processing
2                     other               approved
5                     other               available
====================  ==================  ==============

A partially available show is *processing*: what was asked for is not all there yet.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError

from medianest.sdk import (
    ExternalIds,
    Image,
    MediaItem,
    MediaKind,
    MediaRequest,
    RequestStatus,
    SourceRef,
)
from medianest_overseerr.const import (
    BACKDROP_SIZE,
    MEDIA_AVAILABLE,
    MEDIA_PARTIALLY_AVAILABLE,
    MEDIA_PROCESSING,
    POSTER_SIZE,
    REQUEST_APPROVED,
    REQUEST_COMPLETED,
    REQUEST_DECLINED,
    REQUEST_FAILED,
    REQUEST_PENDING,
    TMDB_IMAGE_BASE,
)

MediaType = Literal["movie", "tv"]

MEDIA_TYPES: dict[MediaType, MediaKind] = {"movie": MediaKind.MOVIE, "tv": MediaKind.SHOW}
KIND_MEDIA_TYPES: dict[MediaKind, MediaType] = {MediaKind.MOVIE: "movie", MediaKind.SHOW: "tv"}

MEDIA_STATUS_NAMES: dict[int, str] = {
    1: "unknown",
    2: "pending",
    3: "processing",
    4: "partially_available",
    5: "available",
    6: "blocklisted",
    7: "deleted",
}


class BadShape(ValueError):
    """Overseerr answered JSON that is not shaped as its API document says."""


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _positive(value: Any) -> int | None:
    number = _int(value)
    return number if number is not None and number > 0 else None


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadShape(f"{what} is not a JSON object")
    return value


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time as Overseerr writes it (``2020-09-12T10:00:27.000Z``), in UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def year_of(date: Any) -> int | None:
    """The year of a ``YYYY-MM-DD`` date, when it is a plausible one."""
    if isinstance(date, str) and len(date) >= 4 and date[:4].isdigit():
        year = int(date[:4])
        if 1870 <= year <= 2200:
            return year
    return None


def external_ids(tmdb: Any = None, imdb: Any = None, tvdb: Any = None) -> ExternalIds:
    """Ids as the SDK keeps them; values that are not valid ids are left out."""
    imdb_id = _text(imdb)
    return ExternalIds(
        tmdb=_positive(tmdb),
        tvdb=_positive(tvdb),
        imdb=imdb_id if imdb_id and imdb_id.startswith("tt") and imdb_id[2:].isdigit() else None,
    )


def request_status(request_code: Any, media_code: Any) -> RequestStatus:
    """One SDK status from a request's and its media's status numbers (module table).

    :raises BadShape: the request's status is not one Overseerr uses.
    """
    request = _int(request_code)
    media = _int(media_code)
    if request == REQUEST_PENDING:
        return RequestStatus.PENDING
    if request == REQUEST_DECLINED:
        return RequestStatus.DECLINED
    if request == REQUEST_FAILED:
        return RequestStatus.FAILED
    if request in (REQUEST_APPROVED, REQUEST_COMPLETED):
        if media == MEDIA_AVAILABLE or request == REQUEST_COMPLETED:
            return RequestStatus.AVAILABLE
        if media in (MEDIA_PROCESSING, MEDIA_PARTIALLY_AVAILABLE):
            return RequestStatus.PROCESSING
        return RequestStatus.APPROVED
    raise BadShape(f"request status {request_code!r} is not one Overseerr uses")


def person_name(user: Any) -> str | None:
    """How an Overseerr user is shown: display name, else username, Plex name or email."""
    if not isinstance(user, dict):
        return None
    for key in ("displayName", "username", "plexUsername", "email"):
        name = _text(user.get(key))
        if name:
            return name
    return None


def media_kind(value: Any, what: str) -> MediaKind:
    """``movie``/``tv`` as a :class:`MediaKind`.

    :raises BadShape: anything else.
    """
    if value in MEDIA_TYPES:
        return MEDIA_TYPES[value]
    raise BadShape(f"{what} is {value!r}, not movie or tv")


def to_request(backend: str, raw: Any, *, title: str | None = None) -> MediaRequest:
    """An Overseerr ``MediaRequest`` object as the SDK's :class:`MediaRequest`.

    :raises BadShape: it lacks its id, type, status or media.
    """
    data = _object(raw, "the request")
    request_id = _positive(data.get("id"))
    if request_id is None:
        raise BadShape("the request has no id")
    media = _object(data.get("media"), f"request {request_id}'s media")
    kind = media_kind(data.get("type") or media.get("mediaType"), f"request {request_id}'s type")
    try:
        return MediaRequest(
            backend=backend,
            request_id=str(request_id),
            kind=kind,
            ids=external_ids(media.get("tmdbId"), media.get("imdbId"), media.get("tvdbId")),
            title=title,
            status=request_status(data.get("status"), media.get("status")),
            requested_by=person_name(data.get("requestedBy")),
            created_at=parse_time(data.get("createdAt")),
            updated_at=parse_time(data.get("updatedAt")),
            seasons=season_numbers(data.get("seasons")) if kind is MediaKind.SHOW else (),
        )
    except ValidationError as exc:
        raise BadShape(f"request {request_id} cannot be read: {exc.errors()[0]['msg']}") from exc


def season_numbers(seasons: Any) -> tuple[int, ...]:
    """The season numbers of a request's ``seasons`` (``[{"seasonNumber": 1, ...}]``), sorted."""
    if not isinstance(seasons, list):
        return ()
    numbers = {_int(s.get("seasonNumber")) for s in seasons if isinstance(s, dict)}
    return tuple(sorted(n for n in numbers if n is not None and n >= 0))


def item_id(media_type: MediaType, tmdb_id: int) -> str:
    """The id of a title in an Overseerr source: ``movie:603``, ``tv:1399``."""
    return f"{media_type}:{tmdb_id}"


def parse_item_id(value: str) -> tuple[MediaType, int] | None:
    """``(media type, TMDB id)`` of an id made by :func:`item_id`; ``None`` for others."""
    media_type, _, number = value.partition(":")
    if media_type not in ("movie", "tv") or not number.isdigit() or len(number) > 12:
        return None
    tmdb = int(number)
    return (media_type, tmdb) if tmdb > 0 else None  # type: ignore[return-value]


def _image_path(path: str | None) -> bool:
    if path is None:
        return False
    return path.startswith("/") and "//" not in path and ".." not in path


def images(raw: dict[str, Any]) -> tuple[Image, ...]:
    """Poster and backdrop, as TMDB image URLs (public: browsers load them directly)."""
    found: list[Image] = []
    poster = _text(raw.get("posterPath"))
    backdrop = _text(raw.get("backdropPath"))
    if _image_path(poster):
        found.append(Image(kind="poster", url=f"{TMDB_IMAGE_BASE}/{POSTER_SIZE}{poster}"))
    if _image_path(backdrop):
        found.append(Image(kind="backdrop", url=f"{TMDB_IMAGE_BASE}/{BACKDROP_SIZE}{backdrop}"))
    return tuple(found)


def _media_extra(raw: dict[str, Any]) -> dict[str, Any]:
    info = raw.get("mediaInfo")
    status = _int(info.get("status")) if isinstance(info, dict) else None
    name = MEDIA_STATUS_NAMES.get(status or 1, "unknown")
    return {
        "requestable": status not in (MEDIA_AVAILABLE,),
        "overseerr_status": name,
    }


def to_item(source: str, raw: Any) -> MediaItem | None:
    """A search result or a title's details as a :class:`MediaItem`; ``None`` for a person
    (and anything else that is not a movie or a show).

    :raises BadShape: a movie or show without its TMDB id or title.
    """
    data = _object(raw, "a search result")
    media_type = data.get("mediaType")
    if media_type is None:  # details carry no mediaType: a show has a name, a movie a title
        media_type = "tv" if "firstAirDate" in data or "numberOfSeasons" in data else "movie"
    if media_type not in MEDIA_TYPES:
        return None
    tmdb = _positive(data.get("id"))
    if tmdb is None:
        raise BadShape(f"a {media_type} result has no TMDB id")
    is_movie = media_type == "movie"
    title = _text(data.get("title") if is_movie else data.get("name"))
    title = title or _text(data.get("originalTitle") if is_movie else data.get("originalName"))
    if title is None:
        raise BadShape(f"{media_type} {tmdb} has no title")
    external: dict[str, Any] = data.get("externalIds") or {}
    info: dict[str, Any] = data.get("mediaInfo") or {}
    external = external if isinstance(external, dict) else {}
    info = info if isinstance(info, dict) else {}
    ids = external_ids(
        tmdb,
        data.get("imdbId") or external.get("imdbId") or info.get("imdbId"),
        external.get("tvdbId") or info.get("tvdbId"),
    )
    extra = _media_extra(data)
    if not is_movie and isinstance(data.get("seasons"), list):
        extra["seasons"] = [
            {
                "number": _int(season.get("seasonNumber")),
                "name": _text(season.get("name")),
                "episodes": _int(season.get("episodeCount")),
            }
            for season in data["seasons"]
            if isinstance(season, dict) and _int(season.get("seasonNumber")) is not None
        ]
    runtime = _positive(data.get("runtime"))
    try:
        return MediaItem(
            kind=MEDIA_TYPES[media_type],
            title=title,
            ref=SourceRef(source=source, item_id=item_id(media_type, tmdb)),
            year=year_of(data.get("releaseDate") if is_movie else data.get("firstAirDate")),
            summary=_text(data.get("overview")),
            ids=ids,
            images=images(data),
            duration_seconds=runtime * 60 if runtime and is_movie else None,
            extra=extra,
        )
    except ValidationError as exc:
        raise BadShape(f"{media_type} {tmdb} cannot be read: {exc.errors()[0]['msg']}") from exc
