"""Deterministic generation of a server's library from a seed.

``items`` counts *leaves* (movies + episodes): 40% movies, 60% episodes, rounded. Episodes
are grouped into shows of 1-6 seasons with 6-13 episodes each (skewed towards short shows),
so ``items=100_000`` gives 40,000 movies and 60,000 episodes in about 2,500 shows and
6,300 seasons (108,800 metadata items). Items are generated in the order they were
"added", movies and shows interleaved, so ratingKeys follow ``addedAt`` (later seasons of a
show arrive three weeks apart); ``addedAt`` spans the eight years before :data:`ANCHOR`.

Servers after the first share about 30% of their works with the first server (same title,
year and external ids, different ratingKeys and possibly a different agent), as happens when
two servers hold copies of the same films.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from medianest_plex.simulator import data
from medianest_plex.simulator.items import Agent, Item, Kind
from medianest_plex.simulator.library import Library, make_item, new_section

ANCHOR = 1_750_000_000
"""Epoch second (2025-06-15) at which the generated history ends; fixed for determinism."""
SPAN = 8 * 365 * 86400
"""How far back the generated ``addedAt`` values reach."""
MOVIE_SHARE = 0.4
SHARED_WORKS = 0.3
MOVIES_SECTION = 1
SHOWS_SECTION = 2
FIRST_RATING_KEY = 101
_PRIME_STRIDE = 7919


@dataclass(frozen=True)
class LibraryPlan:
    """How many leaves of each kind a server gets."""

    movies: int
    episodes: int

    @classmethod
    def for_items(cls, items: int) -> LibraryPlan:
        """Split ``items`` leaves into movies (40%) and episodes (the rest)."""
        movies = round(max(0, items) * MOVIE_SHARE)
        return cls(movies=movies, episodes=max(0, items) - movies)


@dataclass(frozen=True)
class Catalogue:
    """Work counts of the first server, which later servers draw shared works from."""

    movies: int
    shows: int


def movie_ident(seed: int, work: int) -> int:
    """Identity of movie ``work`` in the shared catalogue."""
    return data.mix(seed, 1, work)


def show_ident(seed: int, work: int) -> int:
    """Identity of show ``work`` in the shared catalogue."""
    return data.mix(seed, 2, work)


LAST_YEAR = 2025
"""No generated release is later than this (the year of :data:`ANCHOR`)."""


def movie_year(ident: int) -> int:
    """Release year, skewed towards recent decades."""
    fraction = ((ident >> 20) % 1000) / 1000.0
    return LAST_YEAR - 1 - int(fraction * fraction * 70)


class _Generator:
    def __init__(
        self,
        seed: int,
        server_index: int,
        plan: LibraryPlan,
        catalogue: Catalogue | None,
        anchor: int,
    ) -> None:
        self.seed = seed
        self.server_index = server_index
        self.plan = plan
        self.catalogue = catalogue
        self.anchor = anchor
        self.rng = random.Random(data.mix(seed, 7, server_index))  # noqa: S311 - test data
        self.items: list[Item] = []
        self.leaves_done = 0
        self.movies_made = 0
        self.shows_made = 0

    def agent(self) -> Agent:
        roll = self.rng.random()
        if roll < 0.70:
            return Agent.MODERN
        if roll < 0.95:
            return Agent.LEGACY
        return Agent.LOCAL

    def clock(self) -> int:
        total = max(1, self.plan.movies + self.plan.episodes)
        start = self.anchor - SPAN
        return start + SPAN * self.leaves_done // total + int(self.rng.random() * 3600)

    def work(self, made: int, shared_pool: int) -> int:
        if self.catalogue is not None and shared_pool > 0 and self.rng.random() < SHARED_WORKS:
            return 1 + (made * _PRIME_STRIDE) % shared_pool
        return self.server_index * 10_000_000 + made + 1

    def movie(self, library: Library) -> None:
        pool = self.catalogue.movies if self.catalogue else 0
        ident = movie_ident(self.seed, self.work(self.movies_made, pool))
        added = self.clock()
        updated = min(self.anchor, added + int(self.rng.random() * 60 * 86400))
        item = make_item(
            library,
            kind=Kind.MOVIE,
            section_key=MOVIES_SECTION,
            ident=ident,
            title=data.movie_title(ident),
            year=movie_year(ident),
            index=0,
            parent=None,
            added_at=added,
            updated_at=updated,
            agent=self.agent(),
        )
        self.items.append(item)
        self.movies_made += 1
        self.leaves_done += 1

    def show(self, library: Library, episodes_left: int) -> int:
        pool = self.catalogue.shows if self.catalogue else 0
        work = self.work(self.shows_made, pool)
        ident = show_ident(self.seed, work)
        added = self.clock()
        year = movie_year(ident)
        agent = self.agent()
        show = make_item(
            library,
            kind=Kind.SHOW,
            section_key=SHOWS_SECTION,
            ident=ident,
            title=data.show_title(ident),
            year=year,
            index=1,
            parent=None,
            added_at=added,
            updated_at=added,
            agent=agent,
        )
        self.items.append(show)
        self.shows_made += 1
        seasons = 1 + int(self.rng.random() ** 2 * 6)
        made = 0
        for number in range(1, seasons + 1):
            if made >= episodes_left:
                break
            season_added = min(self.anchor, added + (number - 1) * 21 * 86400)
            season = make_item(
                library,
                kind=Kind.SEASON,
                section_key=SHOWS_SECTION,
                ident=data.mix(self.seed, 3, work, number),
                title=f"Season {number}",
                year=min(year + number - 1, LAST_YEAR),
                index=number,
                parent=show,
                added_at=season_added,
                updated_at=season_added,
                agent=agent,
            )
            self.items.append(season)
            assert show.children is not None and season.children is not None
            show.children.append(season)
            count = min(6 + int(self.rng.random() * 8), episodes_left - made)
            for episode_number in range(1, count + 1):
                episode_ident = data.mix(self.seed, 4, work, number, episode_number)
                episode_added = min(self.anchor, season_added + episode_number * 600)
                episode = make_item(
                    library,
                    kind=Kind.EPISODE,
                    section_key=SHOWS_SECTION,
                    ident=episode_ident,
                    title=data.episode_title(episode_ident),
                    year=season.year,
                    index=episode_number,
                    parent=season,
                    added_at=episode_added,
                    updated_at=episode_added,
                    agent=agent,
                )
                self.items.append(episode)
                season.children.append(episode)
                season.updated_at = episode_added
            made += count
            show.updated_at = max(show.updated_at, season.updated_at)
        self.leaves_done += made
        return made


def generate_library(
    *,
    seed: int,
    server_index: int,
    items: int,
    catalogue: Catalogue | None,
    anchor: int = ANCHOR,
) -> tuple[Library, Catalogue]:
    """Build the library of server ``server_index`` (0-based) for ``items`` leaves.

    ``catalogue`` is the first server's :class:`Catalogue` (``None`` when building the first
    server). Returns the library and this server's own catalogue counts.
    """
    plan = LibraryPlan.for_items(items)
    created = anchor - SPAN - 86400
    library = Library(
        [
            new_section(
                MOVIES_SECTION, Kind.MOVIE, "Movies", data.mix(seed, 11, server_index), created
            ),
            new_section(
                SHOWS_SECTION, Kind.SHOW, "TV Shows", data.mix(seed, 12, server_index), created
            ),
        ],
        FIRST_RATING_KEY,
    )
    gen = _Generator(seed, server_index, plan, catalogue, anchor)
    movies_left, episodes_left = plan.movies, plan.episodes
    while movies_left or episodes_left:
        movie_progress = 1 - movies_left / plan.movies if plan.movies else 1.0
        episode_progress = 1 - episodes_left / plan.episodes if plan.episodes else 1.0
        jitter = (gen.rng.random() - 0.5) * 0.02
        if episodes_left == 0 or (movies_left and movie_progress <= episode_progress + jitter):
            gen.movie(library)
            movies_left -= 1
        else:
            episodes_left -= gen.show(library, episodes_left)
    library.bulk_load(gen.items)
    for section in library.sections.values():
        section.scanned_at = anchor
    return library, Catalogue(movies=gen.movies_made, shows=gen.shows_made)
