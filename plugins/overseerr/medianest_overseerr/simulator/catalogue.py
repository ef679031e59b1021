"""The titles Overseerr knows (its TMDB-backed side), built over a simulated Plex world.

Every movie and show a Plex server of the world holds becomes a title with the *same*
TMDB/IMDb/TVDB ids the Plex simulator reports for it (works without a TMDB id are unknown to
Overseerr, as with TMDB). Then come titles that exist on "TMDB" only, so they can be requested
but are in no library; their identities are drawn from the same generator, with work numbers no
Plex server uses. A show's TMDB seasons are the seasons Plex holds, plus, for about one show in
four, one more season not in Plex (those shows are partly available).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from medianest_plex.simulator import PlexWorld, data
from medianest_plex.simulator.generate import (
    MOVIES_SECTION,
    SHOWS_SECTION,
    movie_ident,
    movie_year,
    show_ident,
)
from medianest_plex.simulator.items import Agent, Item, Kind
from medianest_plex.simulator.metadata import external_ids

REQUESTABLE_WORK_BASE = 90_000_000
"""Work numbers of titles that exist only on the TMDB side (no Plex server uses them)."""
MOVIE = "movie"
TV = "tv"


@dataclass(slots=True)
class PlexCopy:
    """Where a title sits in Plex: the server, its ratingKey, and (for shows) the seasons."""

    server: str
    rating_key: int
    added_at: int
    seasons: frozenset[int]


@dataclass(slots=True)
class Title:
    """One TMDB movie or TV show."""

    media_type: str
    tmdb: int
    imdb: str | None
    tvdb: int | None
    title: str
    year: int
    ident: int
    seasons: tuple[tuple[int, int], ...]
    """``(season number, episode count)`` for shows; empty for movies."""
    plex: PlexCopy | None
    lower: str

    @property
    def popularity(self) -> float:
        """A stable popularity score (TMDB's sort order for search)."""
        return round(((self.ident >> 3) % 100_000) / 100.0, 3)

    @property
    def release_date(self) -> str:
        """``YYYY-MM-DD`` derived from the year and identity."""
        month = 1 + (self.ident >> 9) % 12
        day = 1 + (self.ident >> 13) % 28
        return f"{self.year:04d}-{month:02d}-{day:02d}"

    @property
    def overview(self) -> str:
        """A one-paragraph synopsis."""
        return data.summary(self.ident, self.ident >> 7)

    @property
    def poster_path(self) -> str:
        """TMDB-style poster path."""
        return f"/{data.hex_id(self.ident, 27)}.jpg"

    @property
    def backdrop_path(self) -> str:
        """TMDB-style backdrop path."""
        return f"/{data.hex_id(self.ident ^ 0xBAC, 27)}.jpg"

    def season_numbers(self) -> list[int]:
        """Regular season numbers (TMDB's season 0, specials, is never listed here)."""
        return [number for number, _ in self.seasons if number > 0]


def _probe(kind: Kind, ident: int) -> Item:
    return Item(
        rating_key=0,
        kind=kind,
        section_key=0,
        ident=ident,
        title="",
        title_sort="",
        year=0,
        index=1,
        parent=None,
        added_at=0,
        updated_at=0,
        agent=Agent.MODERN,
    )


class Catalogue:
    """All titles, indexed by ``(media type, TMDB id)``, IMDb id and TVDB id."""

    def __init__(self, plex: PlexWorld, *, requestable: int | None = None) -> None:
        self.titles: list[Title] = []
        self.by_key: dict[tuple[str, int], Title] = {}
        self.by_imdb: dict[str, Title] = {}
        self.by_tvdb: dict[int, Title] = {}
        self._seen: set[tuple[str, int]] = set()
        plex_movies = plex_shows = 0
        for server in plex.servers:
            for item in server.library.of_kind(MOVIES_SECTION, Kind.MOVIE):
                plex_movies += self._add_plex(server.slug, item)
            for show in server.library.of_kind(SHOWS_SECTION, Kind.SHOW):
                plex_shows += self._add_plex(server.slug, show)
        if requestable is None:
            requestable = max(40, (plex_movies + plex_shows) // 4)
        self._add_requestable(plex.seed, requestable)

    # -- building ----------------------------------------------------------------------------

    def _add(self, title: Title) -> bool:
        key = (title.media_type, title.tmdb)
        if key in self.by_key:
            return False
        self.by_key[key] = title
        self.titles.append(title)
        if title.imdb:
            self.by_imdb.setdefault(title.imdb, title)
        if title.media_type == TV and title.tvdb is not None:
            self.by_tvdb.setdefault(title.tvdb, title)
        return True

    def _add_plex(self, server: str, item: Item) -> int:
        ids = external_ids(item)
        if ids.tmdb is None:
            return 0
        if item.kind == Kind.MOVIE:
            copy = PlexCopy(server, item.rating_key, item.added_at, frozenset())
            title = Title(
                MOVIE,
                ids.tmdb,
                ids.imdb,
                ids.tvdb,
                item.title,
                item.year,
                item.ident,
                (),
                copy,
                item.title.lower(),
            )
        else:
            held = [(s.index, len(s.children or ())) for s in item.children or ()]
            seasons = list(held)
            if (item.ident >> 11) % 4 == 0:
                last = max((n for n, _ in held), default=0)
                seasons.append((last + 1, 6 + (item.ident >> 17) % 8))
            copy = PlexCopy(server, item.rating_key, item.added_at, frozenset(n for n, _ in held))
            title = Title(
                TV,
                ids.tmdb,
                ids.imdb,
                ids.tvdb,
                item.title,
                item.year,
                item.ident,
                tuple(seasons),
                copy,
                item.title.lower(),
            )
        return 1 if self._add(title) else 0

    def _add_requestable(self, seed: int, count: int) -> None:
        shows = max(10, count // 3)
        movies = max(0, count - shows)
        work = REQUESTABLE_WORK_BASE
        made = 0
        while made < movies:
            work += 1
            ident = movie_ident(seed, work)
            ids = external_ids(_probe(Kind.MOVIE, ident))
            if ids.tmdb is None:
                continue
            name = data.movie_title(ident)
            made += self._add(
                Title(
                    MOVIE,
                    ids.tmdb,
                    ids.imdb,
                    ids.tvdb,
                    name,
                    movie_year(ident),
                    ident,
                    (),
                    None,
                    name.lower(),
                )
            )
        made = 0
        work = REQUESTABLE_WORK_BASE
        while made < shows:
            work += 1
            ident = show_ident(seed, work)
            ids = external_ids(_probe(Kind.SHOW, ident))
            if ids.tmdb is None:
                continue
            name = data.show_title(ident)
            count_seasons = 1 + (ident >> 5) % 5
            seasons = tuple((n, 6 + (ident >> (7 + n)) % 8) for n in range(1, count_seasons + 1))
            made += self._add(
                Title(
                    TV,
                    ids.tmdb,
                    ids.imdb,
                    ids.tvdb,
                    name,
                    movie_year(ident),
                    ident,
                    seasons,
                    None,
                    name.lower(),
                )
            )

    # -- lookups -----------------------------------------------------------------------------

    def get(self, media_type: str, tmdb: int) -> Title | None:
        """The title of ``media_type`` with TMDB id ``tmdb``."""
        return self.by_key.get((media_type, tmdb))

    def in_plex(self) -> Iterator[Title]:
        """Titles some Plex server holds."""
        return (t for t in self.titles if t.plex is not None)

    def requestable_only(self) -> Iterator[Title]:
        """Titles in no Plex library."""
        return (t for t in self.titles if t.plex is None)

    def search(self, text: str, year: int | None = None) -> list[Title]:
        """Titles whose name holds every word of ``text``, best matches first."""
        words = text.lower().split()
        hits = self.titles if year is None else [t for t in self.titles if t.year == year]
        for word in sorted(words, key=len, reverse=True):
            hits = [t for t in hits if word in t.lower]
        if hits is self.titles:
            hits = list(hits)
        needle = " ".join(words)
        hits.sort(
            key=lambda t: (t.lower != needle, not t.lower.startswith(needle), -t.popularity, t.tmdb)
        )
        return hits
