"""One server's library: its sections and items, sorted indexes, queries and changes.

Plain paging never does O(N) work per request: each (section, type, sort) order is built once
and cached until the library changes, so a page is a slice. Filtered queries (``addedAt>>=``,
``updatedAt>>=``) find their range by bisection on the cached order of that field, and their
result is cached too, so paging through a filtered result is also a slice per page.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from medianest_plex.simulator import data
from medianest_plex.simulator.items import Agent, Item, Kind, Section
from medianest_plex.simulator.query import Filter, SortSpec

SORT_FIELDS: frozenset[str] = frozenset(
    {
        "title",
        "titleSort",
        "addedAt",
        "updatedAt",
        "year",
        "originallyAvailableAt",
        "index",
        "rating",
        "ratingKey",
    }
)
"""Fields accepted by ``sort=`` on library listings."""

INDEXED_FIELDS = frozenset({"addedAt", "updatedAt"})
_RANGE_OPS = frozenset({">>", "<<", ">=", "<="})
_QUERY_CACHE_SIZE = 64


def rating_of(item: Item) -> float:
    """The critic rating (0-10, one decimal) derived from the item's identity."""
    return round(4.0 + (item.ident >> 5) % 57 / 10.0, 1)


def release_date(item: Item) -> str:
    """``originallyAvailableAt`` (YYYY-MM-DD) derived from the item's year and identity."""
    month = 1 + (item.ident >> 9) % 12
    day = 1 + (item.ident >> 13) % 28
    return f"{item.year:04d}-{month:02d}-{day:02d}"


def _natural_key(item: Item) -> tuple[Any, ...]:
    """Default order for seasons and episodes: show title, season number, episode number."""
    if item.kind == Kind.EPISODE and item.parent is not None and item.parent.parent is not None:
        return (item.parent.parent.title_sort.lower(), item.parent.index, item.index)
    if item.kind == Kind.SEASON and item.parent is not None:
        return (item.parent.title_sort.lower(), item.index, 0)
    return (item.title_sort.lower(), 0, 0)


SORT_KEYS: dict[str, Callable[[Item], Any]] = {
    "title": lambda i: i.title.lower(),
    "titleSort": lambda i: i.title_sort.lower(),
    "addedAt": lambda i: i.added_at,
    "updatedAt": lambda i: i.updated_at,
    "year": lambda i: i.year,
    "originallyAvailableAt": release_date,
    "index": lambda i: i.index,
    "rating": rating_of,
    "ratingKey": lambda i: i.rating_key,
    "natural": _natural_key,
}


def field_value(item: Item, name: str) -> int | str | None:
    """The value of filterable field ``name`` on ``item``."""
    if name == "addedAt":
        return item.added_at
    if name == "updatedAt":
        return item.updated_at
    if name == "year":
        return item.year
    if name == "title":
        return item.title
    if name == "index":
        return item.index
    return None


def sort_items(items: list[Item], spec: SortSpec) -> None:
    """Sort ``items`` in place by ``spec`` (stable; ties fall back to ratingKey order)."""
    items.sort(key=lambda i: i.rating_key)
    for name, descending in reversed(spec):
        items.sort(key=SORT_KEYS[name], reverse=descending)


class Library:
    """The sections and items of one Plex Media Server.

    Owned by a :class:`~medianest_plex.simulator.servers.SimServer`; all changes go through
    :meth:`add`, :meth:`touch` and :meth:`remove` so the cached orders stay correct.
    """

    def __init__(self, sections: Sequence[Section], first_rating_key: int) -> None:
        self.sections: dict[int, Section] = {s.key: s for s in sections}
        self.items: dict[int, Item] = {}
        self.next_rating_key = first_rating_key
        self.version = 0
        self._by_kind: dict[tuple[int, Kind], list[Item]] = {}
        self._orders: dict[tuple[int, Kind, SortSpec], list[Item]] = {}
        self._queries: OrderedDict[tuple[Any, ...], list[Item]] = OrderedDict()
        self._recent: dict[tuple[str, frozenset[int] | None], list[Item]] = {}

    # -- building and changing -------------------------------------------------------------

    def allocate_rating_key(self) -> int:
        """Reserve and return the next ratingKey (keys only ever grow, like PMS)."""
        key = self.next_rating_key
        self.next_rating_key += 1
        return key

    def add(self, item: Item) -> None:
        """Insert ``item`` (already linked to its parent) and invalidate cached orders."""
        self.items[item.rating_key] = item
        if item.parent is not None and item.parent.children is not None:
            item.parent.children.append(item)
            item.parent.children.sort(key=lambda c: (c.index, c.rating_key))
        self._changed()

    def bulk_load(self, items: list[Item]) -> None:
        """Insert freshly generated items whose parent links and children lists are set."""
        for item in items:
            self.items[item.rating_key] = item
        self._changed()

    def touch(self, item: Item, when: int) -> None:
        """Record that ``item`` changed at ``when``: bumps its ``updatedAt``."""
        item.updated_at = max(when, item.updated_at)
        self._changed()

    def remove(self, item: Item) -> list[Item]:
        """Delete ``item`` and its descendants; returns everything removed."""
        removed = item.walk()
        for gone in removed:
            self.items.pop(gone.rating_key, None)
        if item.parent is not None and item.parent.children is not None:
            item.parent.children.remove(item)
        self._changed()
        return removed

    def _changed(self) -> None:
        self.version += 1
        self._by_kind.clear()
        self._orders.clear()
        self._queries.clear()
        self._recent.clear()
        for section in self.sections.values():
            section.content_changed_at = self.version

    # -- reading ---------------------------------------------------------------------------

    def get(self, rating_key: int) -> Item | None:
        """The item with ``rating_key`` or ``None``."""
        return self.items.get(rating_key)

    def of_kind(self, section_key: int, kind: Kind) -> list[Item]:
        """All items of ``kind`` in a section, in ratingKey order (cached)."""
        cache_key = (section_key, kind)
        found = self._by_kind.get(cache_key)
        if found is None:
            found = [
                i for i in self.items.values() if i.section_key == section_key and i.kind == kind
            ]
            found.sort(key=lambda i: i.rating_key)
            self._by_kind[cache_key] = found
        return found

    def ordered(self, section_key: int, kind: Kind, spec: SortSpec) -> list[Item]:
        """Items of ``kind`` in a section sorted by ``spec`` (cached until the next change)."""
        cache_key = (section_key, kind, spec)
        found = self._orders.get(cache_key)
        if found is None:
            found = list(self.of_kind(section_key, kind))
            sort_items(found, spec)
            self._orders[cache_key] = found
        return found

    def query(
        self, section_key: int, kind: Kind, filters: Sequence[Filter], spec: SortSpec
    ) -> Sequence[Item]:
        """Items of ``kind`` in a section matching every filter, sorted by ``spec``."""
        if not filters:
            return self.ordered(section_key, kind, spec)
        cache_key = (section_key, kind, spec, tuple(filters))
        cached = self._queries.get(cache_key)
        if cached is not None:
            self._queries.move_to_end(cache_key)
            return cached
        ranged = next(
            (f for f in filters if f.field in INDEXED_FIELDS and f.op in _RANGE_OPS), None
        )
        if ranged is None:
            result = [
                i
                for i in self.ordered(section_key, kind, spec)
                if all(f.matches(field_value(i, f.field)) for f in filters)
            ]
        else:
            by_field = self.ordered(section_key, kind, ((ranged.field, False),))
            candidates = _bisect_range(by_field, ranged)
            rest = [f for f in filters if f is not ranged]
            result = [
                i for i in candidates if all(f.matches(field_value(i, f.field)) for f in rest)
            ]
            if spec != ((ranged.field, False),):
                sort_items(result, spec)
        self._queries[cache_key] = result
        if len(self._queries) > _QUERY_CACHE_SIZE:
            self._queries.popitem(last=False)
        return result

    def leaves(self, sections: frozenset[int] | None = None) -> list[Item]:
        """Every movie and episode (of ``sections`` if given), newest ``addedAt`` first."""
        cache_key = ("recent", sections)
        found = self._recent.get(cache_key)
        if found is None:
            found = [
                i
                for i in self.items.values()
                if i.kind in (Kind.MOVIE, Kind.EPISODE)
                and (sections is None or i.section_key in sections)
            ]
            sort_items(found, (("addedAt", True),))
            self._recent[cache_key] = found
        return found

    def search(self, text: str, section_key: int | None) -> dict[Kind, list[Item]]:
        """Items whose title contains ``text`` (case-insensitive), grouped by kind."""
        needle = text.lower()
        out: dict[Kind, list[Item]] = {}
        for section in self.sections.values():
            if section_key is not None and section.key != section_key:
                continue
            for kind in section.kinds():
                hits = [
                    i
                    for i in self.ordered(section.key, kind, (("natural", False),))
                    if needle in i.title.lower()
                ]
                if hits:
                    out[kind] = out.get(kind, []) + hits
        return out

    def count(self, section_key: int, kind: Kind) -> int:
        """Number of items of ``kind`` in a section."""
        return len(self.of_kind(section_key, kind))


def _bisect_range(items: list[Item], flt: Filter) -> list[Item]:
    key = SORT_KEYS[flt.field]
    value = flt.values[0]
    if flt.op == ">>":
        return items[bisect.bisect_right(items, value, key=key) :]
    if flt.op == ">=":
        return items[bisect.bisect_left(items, value, key=key) :]
    if flt.op == "<<":
        return items[: bisect.bisect_left(items, value, key=key)]
    return items[: bisect.bisect_right(items, value, key=key)]


def new_section(key: int, kind: Kind, title: str, ident: int, created_at: int) -> Section:
    """Build a Movies (``kind=MOVIE``) or TV Shows (``kind=SHOW``) section."""
    hexed = data.hex_id(ident, 32)
    uuid = f"{hexed[:8]}-{hexed[8:12]}-4{hexed[13:16]}-a{hexed[17:20]}-{hexed[20:32]}"
    folder = "Movies" if kind == Kind.MOVIE else "TV Shows"
    return Section(
        key=key,
        title=title,
        type=kind,
        uuid=uuid,
        created_at=created_at,
        location=f"/data/media/{folder}",
        scanned_at=created_at,
    )


def make_item(
    library: Library,
    *,
    kind: Kind,
    section_key: int,
    ident: int,
    title: str,
    year: int,
    index: int,
    parent: Item | None,
    added_at: int,
    updated_at: int,
    agent: Agent,
) -> Item:
    """Create an item with the next ratingKey (not yet inserted into ``library``)."""
    return Item(
        rating_key=library.allocate_rating_key(),
        kind=kind,
        section_key=section_key,
        ident=ident,
        title=title,
        title_sort=data.sort_title(title),
        year=year,
        index=index,
        parent=parent,
        added_at=added_at,
        updated_at=updated_at,
        agent=agent,
    )
