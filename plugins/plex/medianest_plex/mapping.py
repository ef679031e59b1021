"""Plex metadata JSON → SDK :class:`~medianest.sdk.MediaItem`.

:func:`map_item` is strict: an item without a usable ``ratingKey``, ``type`` or title, or with
a field of the wrong JSON type, raises :class:`~medianest.sdk.UpstreamDataError` naming the
ratingKey. Callers decide what a bad item means: :mod:`medianest_plex.source` skips it with a
warning while listing (one broken item must not stall a whole sync) and raises when that one
item was asked for.

External ids come from the ``Guid`` list (``imdb://``, ``tmdb://``, ``tvdb://``; present when
the request had ``includeGuids=1``) and, for items matched by Plex's legacy agents, from the
``guid`` string (``com.plexapp.agents.imdb://tt0123456?lang=en``). A legacy guid with extra
path segments (``com.plexapp.agents.thetvdb://12345/1/2``) names the *show* of a season or
episode, so its ids go to ``extra["show_ids"]`` rather than to the item's own ``ids``.

Image URLs point at the server and never carry a token; whoever fetches them adds one.

A full sync maps every item of a library, so the mapper is written for throughput: it checks
the raw fields in plain Python, builds the item as nested plain data and has pydantic validate
it in one call (rather than one model per reference, id set and image), and it computes the
Plex Web link prefix once per machine identifier. The result is the same fully validated
:class:`~medianest.sdk.MediaItem`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from pydantic import ValidationError

from medianest.sdk import (
    ExternalIds,
    MediaItem,
    MediaKind,
    SourceRef,
    UpstreamDataError,
)
from medianest_plex.const import KIND_BY_PLEX_TYPE, PLUGIN_KEY

_RATING_KEY = re.compile(r"^[0-9]{1,20}$")
_IMDB = re.compile(r"^tt[0-9]{1,12}$")
_NUMBER = re.compile(r"^[0-9]{1,12}$")
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,16}")
_LEGACY_AGENTS = {
    "com.plexapp.agents.imdb": "imdb",
    "com.plexapp.agents.themoviedb": "tmdb",
    "com.plexapp.agents.tmdb": "tmdb",
    "com.plexapp.agents.thetvdb": "tvdb",
    "com.plexapp.agents.tvdb": "tvdb",
}
_GUID_SCHEMES = {"imdb": "imdb", "tmdb": "tmdb", "tvdb": "tvdb"}
_MIN_YEAR, _MAX_YEAR = 1870, 2200


class ItemMapper:
    """Maps one server's metadata objects; knows the source id and where the server is.

    :param source_id: the provider id (``plex:home``).
    :param server_url: the server's base URL, used for image URLs.
    :param machine_identifier: when known, items get a link that opens them in Plex Web.
    """

    def __init__(self, source_id: str, server_url: str, machine_identifier: str | None = None):
        self.source_id = source_id
        self.server_url = server_url.rstrip("/")
        self.machine_identifier = machine_identifier
        self._link_prefix: tuple[str, str] | None = None

    def ref(self, rating_key: str) -> SourceRef:
        """A reference to item ``rating_key`` of this server."""
        return SourceRef(**self._ref_fields(rating_key))

    def _ref_fields(self, rating_key: str) -> dict[str, Any]:
        return {"source": self.source_id, "item_id": rating_key, "url": self._web_url(rating_key)}

    def _web_url(self, rating_key: str) -> str | None:
        machine = self.machine_identifier
        if not machine:
            return None
        # ``machine_identifier`` may be learned or replaced after construction, so the
        # quoted prefix is cached together with the identifier it was made from.
        cached = self._link_prefix
        if cached is None or cached[0] != machine:
            prefix = f"https://app.plex.tv/desktop/#!/server/{quote(machine, safe='')}/details?key="
            self._link_prefix = cached = (machine, prefix)
        if rating_key.isascii() and rating_key.isdigit():
            # What ``quote`` makes of the key path when the key is all digits.
            return f"{cached[1]}%2Flibrary%2Fmetadata%2F{rating_key}"
        return cached[1] + quote(f"/library/metadata/{rating_key}", safe="")

    def map(self, raw: Any) -> MediaItem:
        """The SDK item for one Plex metadata object.

        :raises UpstreamDataError: the object is malformed (the message names its ratingKey).
        """
        if not isinstance(raw, dict):
            raise self._bad("?", "is not a JSON object")
        rating_key = _rating_key(raw.get("ratingKey"))
        if rating_key is None:
            raise self._bad("?", "has no valid ratingKey")
        plex_type = raw.get("type")
        kind = KIND_BY_PLEX_TYPE.get(plex_type) if isinstance(plex_type, str) else None
        if kind is None:
            raise self._bad(rating_key, f"has an unsupported type {str(plex_type)[:40]!r}")
        try:
            return self._build(raw, rating_key, kind)
        except (TypeError, ValueError, ValidationError) as exc:
            raise self._bad(rating_key, f"does not fit the expected shape: {_short(exc)}") from exc

    def _build(self, raw: dict[str, Any], rating_key: str, kind: MediaKind) -> MediaItem:
        # The fields are read in a fixed order so that an item with several faults is always
        # reported for the same one.
        index = _opt_int(raw, "index")
        title = _title(raw, kind, index)
        if title is None:
            raise ValueError("title is missing or empty")
        parent_key = _rating_key(raw.get("parentRatingKey"))
        parent = self._ref_fields(parent_key) if parent_key and kind in _CHILD_KINDS else None
        ids, show_ids, guid = _id_fields(raw)
        year = _opt_int(raw, "year")
        duration_ms = _opt_int(raw, "duration")
        ref = self._ref_fields(rating_key)
        summary = _opt_str(raw, "summary") or None
        images = self._image_fields(raw, kind)
        added_at = _epoch(raw, "addedAt")
        updated_at = _epoch(raw, "updatedAt")
        duration_seconds = (
            round(duration_ms / 1000) if duration_ms is not None and duration_ms >= 0 else None
        )
        extra = self._extra(raw, kind, guid, show_ids)
        return _validate_item(
            {
                "kind": kind,
                "title": title,
                "ref": ref,
                "year": year if year is not None and _MIN_YEAR <= year <= _MAX_YEAR else None,
                "summary": summary,
                "ids": ids,
                "images": images,
                "parent": parent,
                "index": index,
                "added_at": added_at,
                "updated_at": updated_at,
                "duration_seconds": duration_seconds,
                "extra": extra,
            }
        )

    def _image_fields(self, raw: dict[str, Any], kind: MediaKind) -> list[dict[str, str]]:
        images: list[dict[str, str]] = []
        thumb = _opt_str(raw, "thumb")
        if thumb:
            thumb_kind = "thumbnail" if kind == MediaKind.EPISODE else "poster"
            images.append({"kind": thumb_kind, "url": self._image_url(thumb)})
        art = _opt_str(raw, "art")
        if art:
            images.append({"kind": "backdrop", "url": self._image_url(art)})
        return images

    def image_path(self, raw: dict[str, Any], kind: str) -> str | None:
        """The server's own path of an item's picture ``kind``, for its photo transcoder: a
        poster is the item's ``thumb`` (an episode's, its show's), a thumbnail its ``thumb``,
        a backdrop its ``art`` (falling back to its show's or season's)."""
        if kind == "poster":
            episode = raw.get("type") == "episode"
            names = ("grandparentThumb", "parentThumb", "thumb") if episode else ("thumb",)
        elif kind == "thumbnail":
            names = ("thumb",)
        elif kind == "backdrop":
            names = ("art", "grandparentArt", "parentArt")
        else:
            return None
        for name in names:
            value = raw.get(name)
            if isinstance(value, str) and value:
                return value
        return None

    def _image_url(self, path: str) -> str:
        # A path that starts with a single "/" has neither a scheme nor a host, so
        # ``urlsplit`` (which also rejects some malformed hosts) is only needed for others.
        if path[0] != "/" or path[1:2] in _HOST_MARKERS:
            if urlsplit(path).scheme in ("http", "https"):
                return path
        return f"{self.server_url}/{path.lstrip('/')}"

    def _extra(
        self,
        raw: dict[str, Any],
        kind: MediaKind,
        guid: str | None,
        show_ids: dict[str, str | int],
    ) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if guid:
            extra["guid"] = guid
        section = _opt_int(raw, "librarySectionID")
        if section is not None:
            extra["section_id"] = str(section)
        if kind == MediaKind.EPISODE:
            show_key = _rating_key(raw.get("grandparentRatingKey"))
            if show_key:
                extra["show_id"] = show_key
            season = _opt_int(raw, "parentIndex")
            if season is not None:
                extra["season_number"] = season
        for source_field, target in _EXTRA_STRINGS:
            value = _opt_str(raw, source_field)
            if value:
                extra[target] = value
        if show_ids:
            extra["show_ids"] = show_ids
        return extra

    def _bad(self, rating_key: str, what: str) -> UpstreamDataError:
        return UpstreamDataError(
            f"Plex item {rating_key} of {self.source_id} {what}",
            source=self.source_id,
            plugin=PLUGIN_KEY,
        )


_CHILD_KINDS = frozenset({MediaKind.SEASON, MediaKind.EPISODE, MediaKind.ALBUM, MediaKind.TRACK})
_EXTRA_STRINGS = (
    ("grandparentTitle", "show_title"),
    ("parentTitle", "parent_title"),
    ("contentRating", "content_rating"),
    ("originallyAvailableAt", "originally_available_at"),
)
_HOST_MARKERS = ("/", "\t", "\r", "\n")
"""Second characters that may make ``urlsplit`` read a host after a leading "/" (it drops
tabs and line breaks before parsing)."""

_validate_item = MediaItem.model_validate


def external_ids(raw: dict[str, Any]) -> tuple[ExternalIds, dict[str, str | int]]:
    """The item's own external ids, and the show's ids a legacy season/episode guid names.

    ``Guid`` entries win over the legacy ``guid`` string; values that are not well-formed
    ids are ignored.
    """
    found, show_ids, _ = _id_fields(raw)
    return ExternalIds(**found), show_ids


def _id_fields(
    raw: dict[str, Any],
) -> tuple[dict[str, str | int], dict[str, str | int], str | None]:
    """:func:`external_ids` as plain data, plus the ``guid`` string it read."""
    found: dict[str, str | int] = {}
    guids = raw.get("Guid")
    if guids is not None and not isinstance(guids, list):
        raise TypeError("Guid is not a list")
    for entry in guids or ():
        value = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(value, str):
            continue
        scheme, sep, rest = value.partition("://")
        name = _GUID_SCHEMES.get(scheme)
        if sep and name and name not in found:
            parsed = _id_value(name, rest)
            if parsed is not None:
                found[name] = parsed
    show_ids: dict[str, str | int] = {}
    guid = _opt_str(raw, "guid")
    legacy = _legacy(guid)
    if legacy is not None:
        name, value, is_own = legacy
        if is_own:
            found.setdefault(name, value)
        else:
            show_ids[name] = value
    return found, show_ids, guid


def _legacy(guid: str | None) -> tuple[str, str | int, bool] | None:
    """``(id name, value, names the item itself)`` from a legacy-agent guid, if it is one."""
    if not guid:
        return None
    agent, sep, rest = guid.partition("://")
    name = _LEGACY_AGENTS.get(agent)
    if not sep or name is None:
        return None
    path = rest.split("?", 1)[0].strip("/")
    first, _, remainder = path.partition("/")
    value = _id_value(name, first)
    if value is None:
        return None
    return name, value, not remainder


def _id_value(name: str, text: str) -> str | int | None:
    text = text.strip()
    if name == "imdb":
        return text if _IMDB.fullmatch(text) else None
    if _NUMBER.fullmatch(text) and int(text) > 0:
        return int(text)
    return None


def _rating_key(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str) and _RATING_KEY.fullmatch(value):
        return value
    return None


def _title(raw: dict[str, Any], kind: MediaKind, index: int | None) -> str | None:
    title = _opt_str(raw, "title")
    if title:
        title = title.strip()
        if title:
            return title
    if index is not None and kind == MediaKind.SEASON:
        return "Specials" if index == 0 else f"Season {index}"
    if index is not None and kind == MediaKind.EPISODE:
        return f"Episode {index}"
    return None


def _opt_str(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{key} is not a string")
    return value


def _opt_int(raw: dict[str, Any], key: str) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"{key} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
        return int(value)
    raise TypeError(f"{key} is not a whole number")


def _epoch(raw: dict[str, Any], key: str) -> datetime | None:
    seconds = _opt_int(raw, key)
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"{key} is out of range") from exc


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg', '')}" if where else str(first.get("msg", ""))
    return str(exc)[:200]
