"""Turning library items into PMS ``Metadata`` elements (``<Video>``/``<Directory>``).

External ids are derived from an item's ``ident`` and the world seed, so the same work has
the same imdb/tmdb/tvdb ids on every server. Roughly one work in ten has no TMDB id.
"""

from __future__ import annotations

from dataclasses import dataclass

from medianest_plex.simulator import data
from medianest_plex.simulator.activity import thumb_of
from medianest_plex.simulator.items import Agent, Item, Kind, Section
from medianest_plex.simulator.library import rating_of, release_date
from medianest_plex.simulator.render import Element


@dataclass(frozen=True)
class ExternalIds:
    """The ids a modern-agent item lists in ``Guid``; ``None`` when the work has none."""

    imdb: str | None
    tmdb: int | None
    tvdb: int | None


def external_ids(item: Item) -> ExternalIds:
    """External ids of the work ``item`` stands for."""
    ident = item.ident
    has_tmdb = (ident >> 50) % 10 != 0
    tmdb = 10_000 + (ident >> 24) % 990_000 if has_tmdb else None
    if item.kind == Kind.MOVIE:
        tvdb = 300_000 + (ident >> 32) % 90_000 if (ident >> 45) % 2 else None
        return ExternalIds(f"tt{1_000_000 + ident % 9_000_000:07d}", tmdb, tvdb)
    show = item.show or item
    show_tvdb = 70_000 + (show.ident >> 32) % 400_000
    if item.kind == Kind.SHOW:
        return ExternalIds(f"tt{1_000_000 + ident % 9_000_000:07d}", tmdb, show_tvdb)
    if item.kind == Kind.SEASON:
        return ExternalIds(None, tmdb, 500_000 + (ident >> 32) % 400_000)
    imdb = f"tt{1_000_000 + ident % 9_000_000:07d}" if (ident >> 40) % 5 < 3 else None
    return ExternalIds(imdb, tmdb, 4_000_000 + (ident >> 32) % 5_000_000)


def guid_of(item: Item) -> str:
    """The item's ``guid`` string, shaped by its agent."""
    if item.agent == Agent.LOCAL:
        return f"local://{item.rating_key}"
    if item.agent == Agent.MODERN:
        return f"plex://{item.kind.label}/{data.hex_id(item.ident, 24)}"
    show = item.show
    if item.kind == Kind.MOVIE:
        ids = external_ids(item)
        if ids.tmdb is not None and (item.ident >> 47) % 5 < 2:
            return f"com.plexapp.agents.themoviedb://{ids.tmdb}?lang=en"
        return f"com.plexapp.agents.imdb://{ids.imdb}?lang=en"
    show_tvdb = external_ids(show).tvdb if show is not None else 0
    if item.kind == Kind.SHOW:
        return f"com.plexapp.agents.thetvdb://{show_tvdb}?lang=en"
    if item.kind == Kind.SEASON:
        return f"com.plexapp.agents.thetvdb://{show_tvdb}/{item.index}?lang=en"
    season = item.parent
    season_index = season.index if season is not None else 1
    return f"com.plexapp.agents.thetvdb://{show_tvdb}/{season_index}/{item.index}?lang=en"


def guid_elements(item: Item) -> list[Element]:
    """``Guid`` children (modern agent only; legacy and local items have none)."""
    if item.agent != Agent.MODERN:
        return []
    ids = external_ids(item)
    out = []
    if ids.imdb:
        out.append(Element("Guid", {"id": f"imdb://{ids.imdb}"}))
    if ids.tmdb is not None:
        out.append(Element("Guid", {"id": f"tmdb://{ids.tmdb}"}))
    if ids.tvdb is not None:
        out.append(Element("Guid", {"id": f"tvdb://{ids.tvdb}"}))
    return out


def duration_of(item: Item) -> int:
    """Runtime in milliseconds (movies 85-170 min, episodes 22-60 min)."""
    show = item.show
    if item.kind == Kind.MOVIE:
        return (85 + (item.ident >> 3) % 86) * 60_000
    base = show.ident if show is not None else item.ident
    return (22 + (base >> 3) % 39) * 60_000


def _tags(tag: str, names: list[str], start_id: int) -> list[Element]:
    return [Element(tag, {"id": start_id + n, "tag": name}) for n, name in enumerate(names)]


def _genres(ident: int, count: int) -> list[str]:
    picked: list[str] = []
    for n in range(count + 2):
        genre = data.pick(data.GENRES, ident >> (5 * n))
        if genre not in picked:
            picked.append(genre)
    return picked[:count]


def _media(item: Item, duration: int) -> Element:
    ident = item.ident
    uhd = (ident >> 11) % 6 == 0
    width, height, resolution = (3840, 2160, "4k") if uhd else (1920, 1080, "1080")
    bitrate = (18_000 if uhd else 6_000) + (ident >> 14) % 4_000
    size = duration // 1000 * bitrate * 125
    path_title = item.title.replace("/", "-")
    if item.kind == Kind.EPISODE and item.show is not None and item.parent is not None:
        show = item.show.title.replace("/", "-")
        file = (
            f"/data/media/TV Shows/{show}/Season {item.parent.index:02d}/"
            f"{show} - s{item.parent.index:02d}e{item.index:02d} - {path_title}.mkv"
        )
    else:
        file = f"/data/media/Movies/{path_title} ({item.year})/{path_title} ({item.year}).mkv"
    part = Element(
        "Part",
        {
            "id": item.rating_key,
            "key": f"/library/parts/{item.rating_key}/{item.added_at}/file.mkv",
            "duration": duration,
            "file": file,
            "size": size,
            "container": "mkv",
            "videoProfile": "main 10" if uhd else "high",
        },
    )
    return Element(
        "Media",
        {
            "id": item.rating_key,
            "duration": duration,
            "bitrate": bitrate,
            "width": width,
            "height": height,
            "aspectRatio": 1.78,
            "audioChannels": 6,
            "audioCodec": "eac3",
            "videoCodec": "hevc" if uhd else "h264",
            "videoResolution": resolution,
            "container": "mkv",
            "videoFrameRate": "24p",
            "videoProfile": "main 10" if uhd else "high",
        },
        [part],
    )


def _section_attrs(section: Section | None) -> dict[str, object]:
    if section is None:
        return {}
    return {
        "librarySectionTitle": section.title,
        "librarySectionID": section.key,
        "librarySectionKey": f"/library/sections/{section.key}",
    }


def metadata_element(
    item: Item,
    *,
    section: Section | None,
    detail: bool = False,
    include_guids: bool = False,
    with_section: bool = False,
) -> Element:
    """The ``Metadata`` element for ``item``.

    ``detail`` gives the full ``/library/metadata/{id}`` shape (always with ``Guid``,
    people and summary-level fields); list endpoints pass ``include_guids`` from
    ``includeGuids=1``. ``with_section`` adds ``librarySectionID``/``Title``/``Key`` (PMS
    hoists those to the container on section listings).
    """
    kind = item.kind
    rk = str(item.rating_key)
    ident = item.ident
    attrs: dict[str, object] = {"ratingKey": rk, "key": f"/library/metadata/{rk}"}
    if kind in (Kind.SHOW, Kind.SEASON):
        attrs["key"] = f"/library/metadata/{rk}/children"
    attrs["guid"] = guid_of(item)
    if with_section or detail:
        attrs.update(_section_attrs(section))
    attrs["type"] = kind.label
    attrs["title"] = item.title
    if item.title_sort != item.title:
        attrs["titleSort"] = item.title_sort
    children: list[Element] = []
    summary = item.summary if item.summary is not None else data.summary(ident, ident >> 33)
    thumb = thumb_of(item)
    art = f"/library/metadata/{rk}/art/{item.updated_at}"
    if kind == Kind.MOVIE:
        duration = duration_of(item)
        attrs.update(
            {
                "studio": data.pick(data.STUDIOS, ident >> 6),
                "contentRating": data.pick(data.CONTENT_RATINGS_MOVIE, ident >> 8),
                "summary": summary,
                "rating": rating_of(item),
                "audienceRating": round(3.0 + (ident >> 27) % 70 / 10.0, 1),
                "year": item.year,
                "tagline": data.pick(data.TAGLINES, ident >> 19),
                "thumb": thumb,
                "art": art,
                "duration": duration,
                "originallyAvailableAt": release_date(item),
            }
        )
        children.append(_media(item, duration))
        children.extend(_tags("Genre", _genres(ident, 3 if detail else 2), 100))
        children.extend(_tags("Country", [data.pick(data.COUNTRIES, ident >> 29)], 200))
        children.extend(_tags("Director", [data.person_name(ident >> 2)], 300))
        if detail:
            children.extend(_tags("Writer", [data.person_name(ident >> 4)], 400))
            children.extend(
                _tags("Role", [data.person_name(ident >> (6 + 3 * n)) for n in range(5)], 500)
            )
        else:
            children.extend(
                _tags("Role", [data.person_name(ident >> (6 + 3 * n)) for n in range(3)], 500)
            )
    elif kind == Kind.SHOW:
        seasons = item.children or []
        attrs.update(
            {
                "studio": data.pick(data.NETWORKS, ident >> 6),
                "contentRating": data.pick(data.CONTENT_RATINGS_TV, ident >> 8),
                "summary": summary,
                "index": 1,
                "rating": rating_of(item),
                "year": item.year,
                "thumb": thumb,
                "art": art,
                "theme": f"/library/metadata/{rk}/theme/{item.updated_at}",
                "duration": duration_of(item),
                "originallyAvailableAt": release_date(item),
                "leafCount": item.leaf_count(),
                "viewedLeafCount": 0,
                "childCount": len(seasons),
            }
        )
        children.extend(_tags("Genre", _genres(ident, 3 if detail else 2), 100))
        if detail:
            children.extend(
                _tags("Role", [data.person_name(ident >> (6 + 3 * n)) for n in range(4)], 500)
            )
    elif kind == Kind.SEASON:
        show = item.parent
        attrs.update(
            {
                "parentRatingKey": str(show.rating_key) if show else None,
                "parentGuid": guid_of(show) if show else None,
                "parentKey": f"/library/metadata/{show.rating_key}" if show else None,
                "parentTitle": show.title if show else None,
                "parentThumb": thumb_of(show) if show else None,
                "summary": "",
                "index": item.index,
                "parentIndex": 1,
                "parentYear": show.year if show else None,
                "thumb": thumb,
                "art": art,
                "leafCount": item.leaf_count(),
                "viewedLeafCount": 0,
            }
        )
    else:
        season = item.parent
        show = season.parent if season is not None else None
        duration = duration_of(item)
        attrs.update(
            {
                "parentRatingKey": str(season.rating_key) if season else None,
                "grandparentRatingKey": str(show.rating_key) if show else None,
                "parentGuid": guid_of(season) if season else None,
                "grandparentGuid": guid_of(show) if show else None,
                "parentKey": f"/library/metadata/{season.rating_key}" if season else None,
                "grandparentKey": f"/library/metadata/{show.rating_key}" if show else None,
                "parentTitle": season.title if season else None,
                "grandparentTitle": show.title if show else None,
                "contentRating": data.pick(data.CONTENT_RATINGS_TV, show.ident >> 8)
                if show
                else None,
                "summary": summary,
                "index": item.index,
                "parentIndex": season.index if season else None,
                "year": item.year,
                "thumb": thumb,
                "art": art,
                "parentThumb": thumb_of(season) if season else None,
                "grandparentThumb": thumb_of(show) if show else None,
                "grandparentArt": f"/library/metadata/{show.rating_key}/art/{show.updated_at}"
                if show
                else None,
                "duration": duration,
                "originallyAvailableAt": release_date(item),
            }
        )
        children.append(_media(item, duration))
        children.extend(_tags("Director", [data.person_name(ident >> 2)], 300))
        children.extend(_tags("Writer", [data.person_name(ident >> 4)], 400))
    attrs["addedAt"] = item.added_at
    attrs["updatedAt"] = item.updated_at
    if detail or include_guids:
        children.extend(guid_elements(item))
    tag = "Video" if kind in (Kind.MOVIE, Kind.EPISODE) else "Directory"
    return Element(tag, attrs, children, key="Metadata")
