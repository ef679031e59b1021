"""The records a simulated library is made of: metadata items and library sections.

Records are deliberately compact (``__slots__``, few stored fields) so a library of 100,000+
items builds in about a second. Stored fields are the ones a request can sort, filter or
search on; everything else (summary, people, media, external ids) is derived on demand from
the item's 64-bit ``ident`` by :mod:`medianest_plex.simulator.metadata`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Kind(IntEnum):
    """Plex metadata type numbers (the real ones: movie=1, show=2, season=3, episode=4)."""

    MOVIE = 1
    SHOW = 2
    SEASON = 3
    EPISODE = 4

    @property
    def label(self) -> str:
        """The lowercase ``type`` string Plex uses for this kind."""
        return self.name.lower()


class Agent(IntEnum):
    """How an item was matched, which decides the shape of its ``guid`` and ``Guid`` list."""

    MODERN = 0
    """Plex's current agents: ``guid="plex://movie/<24 hex>"`` plus a ``Guid`` list."""
    LEGACY = 1
    """Old agents: only ``guid="com.plexapp.agents.imdb://tt...?lang=en"`` and no ``Guid``."""
    LOCAL = 2
    """Unmatched: ``guid="local://<ratingKey>"``, no external ids at all."""


class Item:
    """One metadata item (movie, show, season or episode) of one server.

    ``ident`` identifies the *work* across servers: two servers holding the same movie give
    it the same ``ident`` (hence the same title, year and external ids) but different
    ``rating_key`` values. ``children`` is a list for shows (seasons) and seasons
    (episodes) and ``None`` for leaves.
    """

    __slots__ = (
        "added_at",
        "agent",
        "children",
        "ident",
        "index",
        "kind",
        "parent",
        "rating_key",
        "section_key",
        "summary",
        "title",
        "title_sort",
        "updated_at",
        "year",
    )

    def __init__(
        self,
        *,
        rating_key: int,
        kind: Kind,
        section_key: int,
        ident: int,
        title: str,
        title_sort: str,
        year: int,
        index: int,
        parent: Item | None,
        added_at: int,
        updated_at: int,
        agent: Agent,
    ) -> None:
        self.rating_key = rating_key
        self.kind = kind
        self.section_key = section_key
        self.ident = ident
        self.title = title
        self.title_sort = title_sort
        self.year = year
        self.index = index
        self.parent = parent
        self.added_at = added_at
        self.updated_at = updated_at
        self.agent = agent
        self.summary: str | None = None
        self.children: list[Item] | None = [] if kind in (Kind.SHOW, Kind.SEASON) else None

    @property
    def show(self) -> Item | None:
        """The show an episode or season belongs to (the item itself for a show)."""
        if self.kind == Kind.SHOW:
            return self
        if self.kind == Kind.SEASON:
            return self.parent
        if self.kind == Kind.EPISODE and self.parent is not None:
            return self.parent.parent
        return None

    def leaf_count(self) -> int:
        """Number of episodes below a show or season (1 for a leaf)."""
        if self.children is None:
            return 1
        if self.kind == Kind.SEASON:
            return len(self.children)
        return sum(len(season.children or ()) for season in self.children)

    def walk(self) -> list[Item]:
        """This item followed by all its descendants, parents before children."""
        out = [self]
        for child in self.children or ():
            out.extend(child.walk())
        return out

    def __repr__(self) -> str:
        return f"Item({self.kind.label} {self.rating_key} {self.title!r})"


@dataclass
class Section:
    """A library section of one server (``/library/sections/{key}``)."""

    key: int
    title: str
    type: Kind
    uuid: str
    created_at: int
    location: str
    scanned_at: int = 0
    content_changed_at: int = 0

    @property
    def type_label(self) -> str:
        """The section ``type`` string: ``movie`` or ``show``."""
        return self.type.label

    @property
    def agent(self) -> str:
        """The section's metadata agent identifier."""
        return "tv.plex.agents.movie" if self.type == Kind.MOVIE else "tv.plex.agents.series"

    @property
    def scanner(self) -> str:
        """The section's scanner name."""
        return "Plex Movie" if self.type == Kind.MOVIE else "Plex TV Series"

    def kinds(self) -> tuple[Kind, ...]:
        """The metadata types that live in this section, top level first."""
        if self.type == Kind.MOVIE:
            return (Kind.MOVIE,)
        return (Kind.SHOW, Kind.SEASON, Kind.EPISODE)
