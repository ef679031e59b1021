"""What a section can be filtered and sorted on, as PMS describes it (``includeMeta=1``).

``GET /library/sections/{id}/all?includeMeta=1`` adds a ``Meta`` element: one ``Type`` per
metadata type the section holds (its ``Field``s, filterable, and ``Sort``s), plus one
``FieldType`` per field type listing its operators. Clients such as python-plexapi read it
to validate a search before sending it. Fields of the section's top-level type have bare keys
(``year``); the others are prefixed by their type (``episode.addedAt``), and every sort a
client sends may be prefixed too (``movie.addedAt:desc``): the routes accept both forms.
"""

from __future__ import annotations

from medianest_plex.simulator.items import Kind, Section
from medianest_plex.simulator.render import Element

LIBTYPES = tuple(kind.label for kind in Kind)
"""The type names a filter or sort key may be prefixed with."""

_FIELDS = (("title", "Title", "string"), ("year", "Year", "integer"))
_DATE_FIELDS = (("addedAt", "Date Added", "date"), ("updatedAt", "Date Updated", "date"))
_SORTS: dict[Kind, tuple[tuple[str, str, str], ...]] = {
    Kind.MOVIE: (
        ("titleSort", "Title", "asc"),
        ("year", "Year", "desc"),
        ("originallyAvailableAt", "Release Date", "desc"),
        ("rating", "Critic Rating", "desc"),
        ("addedAt", "Date Added", "desc"),
        ("updatedAt", "Date Updated", "desc"),
    ),
    Kind.SHOW: (
        ("titleSort", "Title", "asc"),
        ("year", "Year", "desc"),
        ("originallyAvailableAt", "First Aired", "desc"),
        ("rating", "Critic Rating", "desc"),
        ("addedAt", "Date Added", "desc"),
        ("updatedAt", "Date Updated", "desc"),
    ),
    Kind.SEASON: (
        ("index", "Season", "asc"),
        ("titleSort", "Title", "asc"),
        ("addedAt", "Date Added", "desc"),
        ("updatedAt", "Date Updated", "desc"),
    ),
    Kind.EPISODE: (
        ("titleSort", "Title", "asc"),
        ("index", "Episode", "asc"),
        ("originallyAvailableAt", "Air Date", "desc"),
        ("rating", "Critic Rating", "desc"),
        ("addedAt", "Date Added", "desc"),
        ("updatedAt", "Date Updated", "desc"),
    ),
}
_OPERATORS = {
    "string": (
        ("=", "contains"),
        ("!=", "does not contain"),
        ("==", "is"),
        ("!==", "is not"),
        ("<=", "begins with"),
        (">=", "ends with"),
    ),
    "integer": (("=", "is"), ("!=", "is not"), (">>=", "is greater than"), ("<<=", "is less than")),
    "date": (("<<=", "is before"), (">>=", "is after")),
}
_TITLES = {
    Kind.MOVIE: "Movies",
    Kind.SHOW: "TV Shows",
    Kind.SEASON: "Seasons",
    Kind.EPISODE: "Episodes",
}


def unprefixed(name: str) -> str:
    """``name`` without a leading ``<type>.`` (``episode.addedAt`` → ``addedAt``)."""
    head, dot, rest = name.partition(".")
    return rest if dot and head in LIBTYPES else name


def _type_element(section: Section, kind: Kind) -> Element:
    top = kind == section.type
    prefix = "" if top else f"{kind.label}."
    fields = [
        Element("Field", {"key": f"{prefix}{key}", "title": title, "type": field_type})
        for key, title, field_type in (*_FIELDS, *_DATE_FIELDS)
    ]
    sorts = [
        Element(
            "Sort",
            {
                "default": "asc" if key == "titleSort" and top else None,
                "defaultDirection": direction,
                "descKey": f"{key}:desc",
                "key": key,
                "title": title,
            },
        )
        for key, title, direction in _SORTS[kind]
    ]
    return Element(
        "Type",
        {
            "key": f"/library/sections/{section.key}/all?type={int(kind)}",
            "type": kind.label,
            "title": _TITLES[kind],
            "active": top,
        },
        [*fields, *sorts],
    )


def section_meta(section: Section) -> Element:
    """The ``Meta`` element of ``section``'s listings."""
    types = [_type_element(section, kind) for kind in section.kinds()]
    field_types = [
        Element(
            "FieldType",
            {"type": field_type},
            [Element("Operator", {"key": key, "title": title}) for key, title in operators],
        )
        for field_type, operators in _OPERATORS.items()
    ]
    return Element("Meta", {}, [*types, *field_types], single=True)
