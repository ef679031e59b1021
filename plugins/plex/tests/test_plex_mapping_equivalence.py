"""The mapper against a straightforward reference: same items, same errors.

:class:`ItemMapper` validates each item in one pydantic call and caches what it can, for
throughput. :class:`ReferenceMapper` below maps the plain way (one model per reference, id
set and image, every helper from the standard library); whatever the input, both must give
the same :class:`MediaItem` (equal, with the same fields set at every level and the same
value types) or the same :class:`UpstreamDataError` message.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from pydantic import BaseModel, ValidationError

from medianest.sdk import (
    ExternalIds,
    Image,
    MediaItem,
    MediaKind,
    SourceRef,
    UpstreamDataError,
)
from medianest_plex.client import ClientIdentity
from medianest_plex.const import KIND_BY_PLEX_TYPE, SECTION_TYPES
from medianest_plex.mapping import ItemMapper
from medianest_plex.pms import PlexServerClient
from medianest_plex.simulator import RunningSimulator

MACHINE = "370c5ddb1fb23b107fcc05627c277ddf640752f7"

# -- the reference -------------------------------------------------------------------------

_RATING_KEY = re.compile(r"^[0-9]{1,20}$")
_IMDB = re.compile(r"^tt[0-9]{1,12}$")
_NUMBER = re.compile(r"^[0-9]{1,12}$")
_LEGACY_AGENTS = {
    "com.plexapp.agents.imdb": "imdb",
    "com.plexapp.agents.themoviedb": "tmdb",
    "com.plexapp.agents.tmdb": "tmdb",
    "com.plexapp.agents.thetvdb": "tvdb",
    "com.plexapp.agents.tvdb": "tvdb",
}
_GUID_SCHEMES = {"imdb": "imdb", "tmdb": "tmdb", "tvdb": "tvdb"}
_CHILD_KINDS = frozenset({MediaKind.SEASON, MediaKind.EPISODE, MediaKind.ALBUM, MediaKind.TRACK})


class ReferenceMapper:
    """Plex metadata → MediaItem, one validated model at a time (see the module)."""

    def __init__(self, source_id: str, server_url: str, machine_identifier: str | None = None):
        self.source_id = source_id
        self.server_url = server_url.rstrip("/")
        self.machine_identifier = machine_identifier

    def ref(self, rating_key: str) -> SourceRef:
        url = None
        if self.machine_identifier:
            key = quote(f"/library/metadata/{rating_key}", safe="")
            server = quote(self.machine_identifier, safe="")
            url = f"https://app.plex.tv/desktop/#!/server/{server}/details?key={key}"
        return SourceRef(source=self.source_id, item_id=rating_key, url=url)

    def map(self, raw: Any) -> MediaItem:
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
        index = _opt_int(raw, "index")
        title = _opt_str(raw, "title")
        if title and title.strip():
            title = title.strip()
        elif index is not None and kind == MediaKind.SEASON:
            title = "Specials" if index == 0 else f"Season {index}"
        elif index is not None and kind == MediaKind.EPISODE:
            title = f"Episode {index}"
        else:
            raise ValueError("title is missing or empty")
        parent_key = _rating_key(raw.get("parentRatingKey"))
        parent = self.ref(parent_key) if parent_key and kind in _CHILD_KINDS else None
        ids, show_ids = _external_ids(raw)
        year = _opt_int(raw, "year")
        duration_ms = _opt_int(raw, "duration")
        return MediaItem(
            kind=kind,
            title=title,
            ref=self.ref(rating_key),
            year=year if year is not None and 1870 <= year <= 2200 else None,
            summary=_opt_str(raw, "summary") or None,
            ids=ids,
            images=self._images(raw, kind),
            parent=parent,
            index=index,
            added_at=_epoch(raw, "addedAt"),
            updated_at=_epoch(raw, "updatedAt"),
            duration_seconds=(
                round(duration_ms / 1000) if duration_ms is not None and duration_ms >= 0 else None
            ),
            extra=self._extra(raw, kind, show_ids),
        )

    def _images(self, raw: dict[str, Any], kind: MediaKind) -> tuple[Image, ...]:
        images: list[Image] = []
        for field, image_kind in (("thumb", "poster"), ("art", "backdrop")):
            path = _opt_str(raw, field)
            if not path:
                continue
            if field == "thumb" and kind == MediaKind.EPISODE:
                image_kind = "thumbnail"
            if urlsplit(path).scheme in ("http", "https"):
                url = path
            else:
                url = f"{self.server_url}/{path.lstrip('/')}"
            images.append(Image(kind=image_kind, url=url))
        return tuple(images)

    def _extra(
        self, raw: dict[str, Any], kind: MediaKind, show_ids: dict[str, str | int]
    ) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        guid = _opt_str(raw, "guid")
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
        for source_field, target in (
            ("grandparentTitle", "show_title"),
            ("parentTitle", "parent_title"),
            ("contentRating", "content_rating"),
            ("originallyAvailableAt", "originally_available_at"),
        ):
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
            plugin="plex",
        )


def _external_ids(raw: dict[str, Any]) -> tuple[ExternalIds, dict[str, str | int]]:
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
    if guid:
        agent, sep, rest = guid.partition("://")
        name = _LEGACY_AGENTS.get(agent)
        if sep and name is not None:
            first, _, remainder = rest.split("?", 1)[0].strip("/").partition("/")
            value = _id_value(name, first)
            if value is not None and not remainder:
                found.setdefault(name, value)
            elif value is not None:
                show_ids[name] = value
    return ExternalIds(**found), show_ids


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
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,16}", value.strip()):
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


# -- comparing -----------------------------------------------------------------------------


def shape(value: Any) -> Any:
    """A value with, for every model in it, its type, the fields set and each value's type."""
    if isinstance(value, BaseModel):
        return (
            type(value).__name__,
            sorted(value.model_fields_set),
            {name: shape(getattr(value, name)) for name in type(value).model_fields},
        )
    if isinstance(value, tuple | list):
        return (type(value).__name__, [shape(v) for v in value])
    if isinstance(value, dict):
        return ("dict", {k: shape(v) for k, v in value.items()})
    if isinstance(value, datetime):
        return ("datetime", value.isoformat(), type(value.tzinfo).__name__)
    return (type(value).__name__, value)


def outcome(mapper: ItemMapper | ReferenceMapper, raw: Any) -> Any:
    try:
        item = mapper.map(copy.deepcopy(raw))
    except UpstreamDataError as exc:
        return ("error", exc.message, exc.source, exc.plugin)
    return ("item", item, shape(item), item.model_dump())


def assert_same(raw: Any, machine: str | None = MACHINE, server: str = "http://pms:32400") -> None:
    ours = outcome(ItemMapper("plex:home", server, machine), raw)
    reference = outcome(ReferenceMapper("plex:home", server, machine), raw)
    assert ours == reference, raw


# -- simulator items -----------------------------------------------------------------------


async def simulator_items(sim: RunningSimulator) -> list[dict[str, Any]]:
    """Every movie, show, season and episode of every simulated server, as listed."""
    raws: list[dict[str, Any]] = []
    for slug, url in sim.server_urls.items():
        client = PlexServerClient(
            base_url=url,
            label=f"Plex server '{slug}'",
            source=f"plex:{slug}",
            identity=ClientIdentity("equivalence-test", "MediaNest"),
            timeout=5.0,
            token=sim.world.owner.token,
        )
        try:
            for section in await client.sections():
                path = f"/library/sections/{section['key']}/all"
                for plex_type in SECTION_TYPES.get(section["type"], ()):
                    params = [("type", plex_type), ("includeGuids", 1)]
                    page = await client.page(path, start=0, size=1000, params=params)
                    raws.extend(page.items)
            raws.extend(await client.search("the", 50))
        finally:
            await client.aclose()
    return raws


async def test_simulator_items_map_exactly_as_the_reference(plex_sim: RunningSimulator) -> None:
    raws = await simulator_items(plex_sim)
    assert {raw["type"] for raw in raws} >= {"movie", "show", "season", "episode"}
    assert any(str(raw.get("guid", "")).startswith("com.plexapp.agents.") for raw in raws)
    assert any(str(raw.get("guid", "")).startswith("local://") for raw in raws)
    for raw in raws:
        assert_same(raw)
        assert_same(raw, machine=None, server="http://pms:32400/")


# -- awkward and malformed items -----------------------------------------------------------

EPISODE: dict[str, Any] = {
    "ratingKey": "105",
    "key": "/library/metadata/105",
    "guid": "plex://episode/65aefe4d3874b7df45b1318a",
    "type": "episode",
    "title": "Return to the Lantern",
    "parentRatingKey": "104",
    "grandparentRatingKey": "103",
    "parentTitle": "Season 1",
    "grandparentTitle": "Legacy Street",
    "contentRating": "TV-PG",
    "summary": "A young cartographer returns to Avalon.",
    "index": 1,
    "parentIndex": 1,
    "year": 1982,
    "thumb": "/library/metadata/105/thumb/1497717933",
    "art": "/library/metadata/105/art/1497717933",
    "duration": 1320000,
    "originallyAvailableAt": "1982-04-04",
    "addedAt": 1497717933,
    "updatedAt": 1497717933,
    "librarySectionID": 2,
    "Guid": [{"id": "imdb://tt8158810"}, {"id": "tmdb://284303"}, {"id": "tvdb://6487360"}],
}

VARIANTS: dict[str, list[Any]] = {
    "ratingKey": [None, True, 105, "abc", "../1", "1" * 21, " 105"],
    "type": [None, 4, "photo", "movie", "show", "season", "clip", "track", "collection"],
    "title": [None, "", "   ", "  padded  ", 42, "A\ud800"],
    "index": [None, 0, "3", " 3 ", 3.0, 3.5, True, "x", -1, 10**30],
    "parentIndex": [None, "2", 2.5, False],
    "year": [None, 1869, 1870, 2200, 2201, "1999", "19 99", 1999.0],
    "summary": [None, "", 42, "\ud800"],
    "Guid": [
        None,
        [],
        "imdb://tt1",
        {"id": "imdb://tt1"},
        [None, 5, "imdb://tt1", {"id": 5}, {"no": "id"}],
        [{"id": "imdb://tt0133093"}, {"id": "imdb://tt0000001"}],
        [{"id": "imdb://bad"}, {"id": "tmdb://0"}, {"id": "tvdb:// 12 "}, {"id": "tmdb://-4"}],
        [{"id": "tmdb://1234567890123"}, {"id": "tvdb://"}, {"id": "plex://x"}],
        [{"id": "imdb:/tt1"}, {"id": "IMDB://tt1"}],
        [{"id": "imdb:// tt0133093 "}, {"id": "tvdb://١٢٣"}],
    ],
    "guid": [
        None,
        "",
        5,
        "local://105",
        "com.plexapp.agents.imdb://tt0133093?lang=en",
        "com.plexapp.agents.themoviedb://603?lang=en",
        "com.plexapp.agents.thetvdb://123/1/2?lang=en",
        "com.plexapp.agents.thetvdb://123/1",
        "com.plexapp.agents.thetvdb:///123/",
        "com.plexapp.agents.tvdb://0/1",
        "com.plexapp.agents.none://tt1",
        "com.plexapp.agents.imdb:tt1",
    ],
    "thumb": [
        None,
        "",
        5,
        "/",
        "//",
        "relative/path.jpg",
        "http://cdn.example/x.jpg",
        "HTTPS://cdn.example/x.jpg",
        "ftp://cdn.example/x.jpg",
        "//cdn.example/x.jpg",
        "//[bad/x.jpg",
        "/\t/cdn.example/x.jpg",
        "/\t/[bad",
        "/\r/[bad",
        "/\n/[bad",
        "\thttps://cdn.example/x",
        " /library/x",
        "h\nttps://cdn.example/x",
        "/library/metadata/105/thumb/\ud800",
    ],
    "art": [None, "", 5, "https://cdn.example/a.jpg", "//[bad", "/library/a"],
    "addedAt": [None, "yesterday", "1600000000", 1600000000.0, 1.5, -1, 10**20, 10**12, True],
    "updatedAt": [None, "0", 0, 253402300800],
    "duration": [None, -5, 0, 499, 500, 1500, "100", 1.5, 2.0**60],
    "librarySectionID": [None, 3, "3", "x", 3.0],
    "parentRatingKey": [None, "12", 12, "../x", True, ""],
    "grandparentRatingKey": [None, "11", 11, "x"],
    "grandparentTitle": [None, "", 5],
    "parentTitle": [None, 5],
    "contentRating": [None, 5],
    "originallyAvailableAt": [None, 5, ""],
}


@pytest.mark.parametrize(
    ("field", "value"),
    [(field, value) for field, values in VARIANTS.items() for value in values],
)
def test_every_variant_of_a_field_maps_as_the_reference(field: str, value: Any) -> None:
    for base in (EPISODE, {**EPISODE, "type": "movie"}, {**EPISODE, "type": "season"}):
        raw = {**base, field: value}
        assert_same(raw)
        assert_same(raw, machine=None)
        without = {k: v for k, v in raw.items() if k != field}
        assert_same(without)


@pytest.mark.parametrize(
    "faults",
    [
        {"Guid": "x", "guid": 5},
        {"title": 5, "index": "x"},
        {"summary": 5, "thumb": 5},
        {"thumb": "//[bad", "addedAt": "x"},
        {"addedAt": 10**20, "updatedAt": "x"},
        {"title": "A\ud800", "addedAt": "x"},
        {"title": "A\ud800", "contentRating": 5},
        {"librarySectionID": "x", "grandparentTitle": 5},
        {"year": "x", "duration": "x", "summary": 5},
    ],
)
def test_an_item_with_several_faults_is_reported_for_the_same_one(faults: dict[str, Any]) -> None:
    assert_same({**EPISODE, **faults})


@pytest.mark.parametrize("raw", [None, "an item", 5, [EPISODE]])
def test_a_non_object_is_reported_as_the_reference_does(raw: Any) -> None:
    assert_same(raw)


@pytest.mark.parametrize("machine", [MACHINE, "a/b c?d", "ünïcode", "", None])
@pytest.mark.parametrize("rating_key", ["105", "abc", "1/2", "٣"])
def test_references_and_links_match_the_reference(machine: str | None, rating_key: str) -> None:
    ours = ItemMapper("plex:home", "http://pms:32400", machine).ref(rating_key)
    reference = ReferenceMapper("plex:home", "http://pms:32400", machine).ref(rating_key)
    assert shape(ours) == shape(reference)


def test_a_machine_identifier_learned_or_changed_later_is_used() -> None:
    mapper = ItemMapper("plex:home", "http://pms:32400")
    assert mapper.map(EPISODE).ref.url is None
    for machine in ("first", "second", "first"):
        mapper.machine_identifier = machine
        expected = ReferenceMapper("plex:home", "http://pms:32400", machine).map(EPISODE)
        item = mapper.map(EPISODE)
        assert item == expected and item.parent == expected.parent
        assert f"/server/{machine}/" in (item.ref.url or "")
