"""``catalogue_search``: searching a 100,000-item catalogue, in-process, on each database.

A generated library that looks like a home server's (films, shows with their seasons and
episodes, music and a few videos, over three sources; titles drawn from a vocabulary where a
few words are everywhere and most are rare; a third of the shows number their episodes,
"Episode 4") is written straight into a fresh catalogue (COPY on PostgreSQL, one
``executemany`` on SQLite), with overrides on some items, then analysed (``VACUUM ANALYZE``
on PostgreSQL: the state autovacuum leaves a synced catalogue in). After a warm-up, the same
mix of searches runs against each database through :meth:`Catalogue.search`, one at a time,
each timed with ``perf_counter``: whole titles, first words, a partial last word as typed
("star wa"), two words from anywhere in a title, a year filter, episodes by kind, rare and
common words. Each asks for the rows the search service asks for a first page with three
library sources (61).

Reported per database: the seeding time, and the latency of a search (p50, p90, p99, max)
overall and per query class, against the target of p99 under 15 ms. The search wants a few
indexes beyond the migrations' (``SEARCH_INDEXES`` of the catalogue module): while the
migrations lack some, a sample of the searches is timed first without them ("as migrated"),
then they are created and every figure but those is measured with them.

PostgreSQL runs first on a new database of the test server (``MEDIANEST_TEST_DATABASE_URL``),
dropped afterwards; SQLite then in a file of a temporary directory (tortoise-orm serves one SQL
dialect per process at a time).
"""

from __future__ import annotations

import gc
import random
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from medianest.core.db import Database
from medianest.core.db.records import COLUMNS, DATETIME_COLUMNS, record_of
from medianest.core.search.catalogue import SEARCH_INDEXES, Catalogue
from medianest.core.search.query import DEFAULT_KINDS, SearchRequest, words_of
from medianest.sdk.models import MediaItem, MediaKind
from tests.benchmarks.library_sync import fresh_database, reachable_postgres
from tests.benchmarks.results import BenchmarkError, Result
from tests.benchmarks.stats import percentile

TARGET_P99_MS = 15.0
SOURCES = ("plex:home", "plex:cabin", "jellyfin:den")
"""The library's sources, and the share of the items each holds."""
SOURCE_WEIGHTS = (0.6, 0.3, 0.1)
PAGE = 20
WINDOW = PAGE * len(SOURCES) + 1
"""Rows asked per search: what the search service asks the catalogue for a first page of
20 with three library sources."""


@dataclass(frozen=True)
class Params:
    """Catalogue size, searches timed (after ``warmup`` untimed), overrides written."""

    items: int
    searches: int
    warmup: int
    overrides: int
    as_migrated: int
    """Searches timed without the suggested indexes, when the migrations lack some."""


FULL = Params(items=100_000, searches=4_000, warmup=400, overrides=500, as_migrated=300)
QUICK = Params(items=10_000, searches=600, warmup=100, overrides=50, as_migrated=100)


# -- a library -----------------------------------------------------------------------------

# fmt: off
_COMMON = (
    "love", "night", "man", "last", "day", "life", "world",
    "time", "house", "girl", "dead", "star", "dark", "black", "king", "little", "great", "lost",
    "city", "story", "blood", "home", "secret", "new", "wild", "big", "old", "red", "heart",
    "road", "death", "war", "american", "good", "boy", "dream", "father", "summer", "moon",
    "christmas", "fire", "game", "sea", "white", "blue", "happy", "river", "gold", "devil",
    "ghost", "money", "family", "woman", "queen", "street", "music", "island", "dog", "shadow",
)
_WORDS = (
    "angel", "army", "autumn", "baby", "bad", "battle", "beach", "beast", "bell", "bird",
    "birthday", "bitter", "body", "bone", "book", "border", "bridge", "broken", "brother",
    "butterfly", "cabin", "call", "camp", "captain", "car", "castle", "cat", "chase", "child",
    "circle", "city", "club", "code", "cold", "country", "crazy", "crown", "cry", "dance",
    "danger", "daughter", "desert", "diamond", "doctor", "door", "dragon", "drive", "earth",
    "echo", "edge", "empire", "end", "escape", "eye", "face", "fall", "fast", "fear", "field",
    "fight", "final", "flight", "flower", "forest", "forever", "forgotten", "free", "friend",
    "frozen", "future", "garden", "glass", "god", "gone", "grace", "grave", "green", "gun",
    "half", "hand", "harbor", "heat", "heaven", "hell", "hero", "hidden", "high", "hill",
    "holiday", "honor", "horse", "hotel", "hour", "hunter", "ice", "iron", "jack", "journey",
    "jungle", "justice", "kid", "kill", "kiss", "knight", "lady", "lake", "land", "law",
    "legend", "letter", "light", "lion", "long", "machine", "magic", "mark", "master", "memory",
    "midnight", "mind", "mirror", "mission", "monster", "morning", "mother", "mountain",
    "murder", "mystery", "name", "never", "north", "ocean", "one", "paradise", "paris",
    "party", "past", "path", "peace", "perfect", "picture", "planet", "point", "power",
    "prince", "princess", "promise", "rain", "rebel", "rescue", "return", "revenge", "rich",
    "ride", "ring", "rise", "rock", "rose", "royal", "run", "saint", "school", "season",
    "second", "shadows", "ship", "shot", "silence", "silent", "silver", "sister", "sky",
    "sleep", "small", "snow", "soldier", "song", "soul", "south", "space", "spirit", "spring",
    "spy", "storm", "stranger", "strange", "sun", "sweet", "sword", "tale", "thief", "thunder",
    "tiger", "tomorrow", "town", "train", "treasure", "tree", "trouble", "truth", "twilight",
    "under", "valley", "vampire", "voice", "wake", "walk", "wall", "water", "wave", "way",
    "wedding", "west", "wind", "winter", "witch", "wolf", "wonder", "wood", "year", "young",
    "zero", "alien", "apartment", "arrow", "avenue", "badge", "ballad", "bandit", "banquet",
    "barrier", "beacon", "blizzard", "boulevard", "breakfast", "canyon", "carnival",
    "cathedral", "cipher", "citadel", "clockwork", "comet", "compass", "coyote", "crimson",
    "crystal", "curse", "dawn", "detour", "dynasty", "eclipse", "ember", "falcon", "fortune",
    "frontier", "galaxy", "gambit", "glacier", "harvest", "horizon", "hurricane", "jade",
    "labyrinth", "lantern", "lighthouse", "lullaby", "marathon", "meadow", "meteor",
    "monsoon", "nebula", "oasis", "orchard", "outlaw", "pilgrim", "prophecy", "quarry",
    "quest", "raven", "reckoning", "requiem", "riddle", "saga", "sanctuary", "scarecrow",
    "serpent", "sentinel", "sparrow", "symphony", "tempest", "thistle", "trinity", "tundra",
    "vagabond", "velvet", "voyage", "warden", "whisper", "wilderness", "zenith",
)
_FIRST = (
    "Ada", "Alice", "Amelie", "Anna", "Ben", "Billy", "Charlie", "Clara", "Daisy", "Dev",
    "Eddie", "Elena", "Emma", "Felix", "Frank", "Grace", "Harry", "Hugo", "Iris", "Jack",
    "Jane", "Jonah", "Kate", "Kira", "Leo", "Lucy", "Maggie", "Max", "Maya", "Nico", "Olive",
    "Oscar", "Paul", "Priya", "Quinn", "Rosa", "Sam", "Sana", "Theo", "Tom", "Uma", "Victor",
    "Wren", "Yara", "Zane",
)
_PLACES = (
    "Paris", "London", "Tokyo", "Berlin", "Rome", "Vegas", "Brooklyn", "Texas", "Alaska",
    "Chicago", "Manhattan", "Venice", "Casablanca", "Havana", "Memphis", "Bombay", "Cairo",
    "Vienna", "Sahara", "Avalon", "Ravenmoor", "Ashford", "Blackwater", "Dunmore",
)
_FRANCHISES = (
    ("Star Wars", ("A New Hope", "The Empire Strikes Back", "Return of the Jedi",
                   "The Phantom Menace", "Attack of the Clones", "Revenge of the Sith",
                   "The Force Awakens", "The Last Jedi", "The Rise of Skywalker")),
    ("Star Trek", ("The Motion Picture", "The Wrath of Khan", "The Search for Spock",
                   "The Voyage Home", "First Contact", "Into Darkness", "Beyond")),
    ("The Matrix", ("Reloaded", "Revolutions", "Resurrections")),
    ("Mission: Impossible", ("Ghost Protocol", "Rogue Nation", "Fallout", "Dead Reckoning")),
    ("Harry Potter", ("and the Philosopher's Stone", "and the Chamber of Secrets",
                      "and the Prisoner of Azkaban", "and the Goblet of Fire")),
    ("Toy Story", ("2", "3", "4")),
    ("Alien", ("Aliens", "Alien 3", "Resurrection", "Covenant")),
)
_ODD_TITLES = (
    "100% Wolf", "9-1-1", "WALL-E", "M*A*S*H", "Ocean's Eleven", "2001: A Space Odyssey",
    "The 40-Year-Old Virgin", "Léon: The Professional", "Amélie", "Spider-Man: No Way Home",
    "(500) Days of Summer", "Don't Look Up", "Mr. & Mrs. Smith", "Se7en", "Up",
)
# fmt: on
_SYLLABLES = (
    "ka",
    "lo",
    "mir",
    "dra",
    "ven",
    "tho",
    "sal",
    "quo",
    "rin",
    "bel",
    "zor",
    "ith",
    "mar",
    "nel",
    "gra",
    "vos",
    "til",
    "wen",
    "ash",
    "dor",
    "fen",
    "kor",
    "lys",
    "mun",
    "pra",
    "shi",
)
_TITLE_SHAPES = (10, 18, 8, 5, 5, 5, 4, 15, 8, 3, 3, 4, 5, 4, 3)
"""How often each shape of :meth:`_Maker.title` is used (percent)."""
_EPISODE_STYLES = ("numbered", "chapters", "the_one", "pilot", "named")
_EPISODE_STYLE_WEIGHTS = (30, 5, 2, 20, 43)
"""How a show names its episodes ("Episode 4", "Chapter 12: ...", "The One with the ...", a
"Pilot" then names, names), in percent of shows."""
_EPOCH = datetime(2025, 6, 1, tzinfo=UTC)
_SPAN_SECONDS = 9 * 365 * 86400


class _Words:
    """Title words by how often titles use them: a few everywhere, most rare (Zipf)."""

    def __init__(self, rng: random.Random) -> None:
        invented = sorted(
            {
                "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
                for _ in range(4000)
            }
        )
        self.vocabulary = [w.capitalize() for w in _COMMON + _WORDS] + list(_FIRST) + invented
        weights = [1 / (rank + 10) for rank in range(len(self.vocabulary))]
        self._cumulative = list(_accumulate(weights))
        self._rng = rng

    def some(self, count: int) -> list[str]:
        return self._rng.choices(self.vocabulary, cum_weights=self._cumulative, k=count)

    def one(self) -> str:
        return self.some(1)[0]


def _accumulate(weights: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


class _Maker:
    """Builds the items of the library, one work at a time."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words = _Words(self.rng)
        self.items: list[dict[str, Any]] = []
        self._next = {source: 1000 for source in SOURCES}
        self._tmdb = 1000
        self._tvdb = 70000

    def source(self) -> str:
        return self.rng.choices(SOURCES, weights=SOURCE_WEIGHTS)[0]

    def item_id(self, source: str) -> str:
        self._next[source] += 1
        return str(self._next[source])

    def added(self) -> datetime | None:
        if self.rng.random() < 0.02:
            return None
        return _EPOCH - timedelta(seconds=self.rng.randrange(_SPAN_SECONDS))

    def year(self, low: int = 1930) -> int | None:
        if self.rng.random() < 0.04:
            return None
        return min(2025, max(low, int(2025 - abs(self.rng.gauss(0, 18)))))

    def title(self) -> str:
        """A title from the vocabulary; about 30% have "the" in them, as real ones do."""
        w, rng = self.words, self.rng
        shape = rng.choices(range(15), weights=_TITLE_SHAPES)[0]
        if shape == 0:
            return f"The {w.one()}"
        if shape == 1:
            return f"{w.one()} {w.one()}"
        if shape == 2:
            return f"The {w.one()} {w.one()}"
        if shape == 3:
            return f"{w.one()} of the {w.one()}"
        if shape == 4:
            return f"{w.one()} of {rng.choice(_PLACES)}"
        if shape == 5:
            return f"{rng.choice(_FIRST)}'s {w.one()}"
        if shape == 6:
            return f"A {w.one()} in {rng.choice(_PLACES)}"
        if shape == 7:
            return w.one()
        if shape == 8:
            return f"{w.one()} {w.one()} {w.one()}"
        if shape == 9:
            return f"{rng.choice(_FIRST)} and the {w.one()} {w.one()}"
        if shape == 10:
            return f"{w.one()}: {w.one()} of the {w.one()}"
        if shape == 11:
            return f"{w.one()} {w.one()} {rng.choice(('2', '3', 'II', 'Returns'))}"
        if shape == 12:
            return f"{w.one()} {w.one()} and {w.one()}"
        if shape == 13:
            return f"{w.one()} in {rng.choice(_PLACES)}"
        return f"{rng.choice(_FIRST)} {w.one()}"

    def add(self, **fields: Any) -> dict[str, Any]:
        item = {k: v for k, v in fields.items() if v is not None}
        self.items.append(item)
        return item

    def summary(self) -> str:
        return " ".join(self.words.some(self.rng.randint(12, 30))).capitalize() + "."

    def movie(self, title: str | None = None, year: int | None = None) -> None:
        source = self.source()
        self._tmdb += 1
        ids: dict[str, Any] = {"tmdb": self._tmdb}
        if self.rng.random() < 0.8:
            ids["imdb"] = f"tt{self.rng.randrange(100000, 9999999):07d}"
        item_id = self.item_id(source)
        self.add(
            kind="movie",
            title=title or self.title(),
            ref={"source": source, "item_id": item_id, "url": f"https://media.example/{item_id}"},
            year=year or self.year(),
            summary=self.summary(),
            ids=ids,
            images=[{"kind": "poster", "url": f"/library/metadata/{item_id}/thumb"}],
            added_at=self.added(),
            duration_seconds=self.rng.randrange(4800, 9600),
            extra={"rating": round(self.rng.uniform(3, 9.5), 1), "studio": "Northlight"},
        )

    def show(self, episodes: int) -> int:
        source = self.source()
        show_id = self.item_id(source)
        year = self.year(1960)
        self._tvdb += 1
        added = self.added()
        self.add(
            kind="show",
            title=self.title(),
            ref={"source": source, "item_id": show_id},
            year=year,
            summary=self.summary(),
            ids={"tvdb": self._tvdb, "tmdb": self._tmdb + 500_000},
            added_at=added,
        )
        seasons = max(1, episodes // 10)
        style = self.rng.choices(_EPISODE_STYLES, weights=_EPISODE_STYLE_WEIGHTS)[0]
        made = 0
        number = 0
        for season in range(1, seasons + 1):
            season_id = self.item_id(source)
            self.add(
                kind="season",
                title="Specials" if season == seasons and season > 3 else f"Season {season}",
                ref={"source": source, "item_id": season_id},
                year=year,
                parent={"source": source, "item_id": show_id},
                index=season,
                added_at=added,
            )
            per_season = episodes // seasons + (1 if season <= episodes % seasons else 0)
            for episode in range(1, per_season + 1):
                number += 1
                self.add(
                    kind="episode",
                    title=self.episode_title(style, episode, number),
                    ref={"source": source, "item_id": self.item_id(source)},
                    year=min(2025, year + season - 1) if year else None,
                    summary=self.summary() if self.rng.random() < 0.7 else None,
                    parent={"source": source, "item_id": season_id},
                    index=episode,
                    ids={"tvdb": self.rng.randrange(100000, 9999999)}
                    if self.rng.random() < 0.5
                    else None,
                    added_at=self.added(),
                    duration_seconds=self.rng.randrange(1200, 3600),
                )
                made += 1
        return made

    def episode_title(self, style: str, episode: int, number: int) -> str:
        """An episode's title in its show's style: numbered, chapters, or named."""
        if style == "numbered":
            return f"Episode {episode}"
        if style == "chapters":
            return f"Chapter {number}: {self.words.one()}"
        if style == "the_one":
            return f"The One with the {self.words.one()}"
        if style == "pilot" and number == 1:
            return "Pilot"
        return self.title()

    def music(self, tracks: int) -> int:
        source = self.source()
        artist_id = self.item_id(source)
        r = self.rng.random()
        name = (
            f"{self.rng.choice(_FIRST)} {self.words.one()}"
            if r < 0.5
            else f"The {self.words.one()} {self.words.one()}s"
        )
        self.add(kind="artist", title=name, ref={"source": source, "item_id": artist_id})
        made = 0
        for _ in range(self.rng.randint(1, 3)):
            album_id = self.item_id(source)
            year = self.year(1960)
            self.add(
                kind="album",
                title=self.rng.choice(("Greatest Hits", "Live in " + self.rng.choice(_PLACES)))
                if self.rng.random() < 0.1
                else self.title(),
                ref={"source": source, "item_id": album_id},
                year=year,
                parent={"source": source, "item_id": artist_id},
                added_at=self.added(),
            )
            for track in range(1, self.rng.randint(6, 14)):
                if made >= tracks:
                    return made
                self.add(
                    kind="track",
                    title=self.title(),
                    ref={"source": source, "item_id": self.item_id(source)},
                    year=year,
                    parent={"source": source, "item_id": album_id},
                    index=track,
                    duration_seconds=self.rng.randrange(120, 420),
                )
                made += 1
        return made

    def video(self) -> None:
        source = self.source()
        video_id = "".join(self.rng.choices("abcdefghijklmnopqrstuvwxyzABCDEFG0123456789", k=11))
        self.add(
            kind="video",
            title=self.title(),
            ref={"source": source, "item_id": self.item_id(source)},
            ids={"youtube": video_id},
            added_at=self.added(),
        )


def library(size: int, seed: int = 11) -> list[MediaItem]:
    """``size`` items of a home library, the same for the same seed: about 15% films, 69%
    shows with their seasons and episodes, 15% artists with their albums and tracks, 1%
    videos; a few franchises ("Star Wars: ...") and odd titles ("100% Wolf", "9-1-1")."""
    maker = _Maker(seed)
    for base, parts in _FRANCHISES:
        maker.movie(title=base)
        for part in parts:
            joiner = " " if part.startswith("and ") or part.isdigit() else ": "
            maker.movie(title=f"{base}{joiner}{part}")
    for title in _ODD_TITLES:
        maker.movie(title=title)
    # Each step adds to the kind furthest behind its share: films, videos, a show with its
    # seasons and episodes, an artist with albums and tracks.
    shares = {"movie": 0.15, "video": 0.01, "show": 0.69, "music": 0.15}
    made = dict.fromkeys(shares, 0)
    while len(maker.items) < size:
        behind = min(shares, key=lambda k: made[k] / shares[k])
        before = len(maker.items)
        if behind == "movie":
            maker.movie()
        elif behind == "video":
            maker.video()
        elif behind == "show":
            maker.show(maker.rng.choice((6, 8, 10, 13, 22, 24, 40, 60, 100)))
        else:
            maker.music(maker.rng.randint(8, 40))
        made[behind] += len(maker.items) - before
    return [MediaItem.model_validate(item) for item in maker.items[:size]]


# -- writing the catalogue -----------------------------------------------------------------


async def seed_catalogue(
    database: Database, items: Sequence[MediaItem], *, synced_at: datetime | None = None
) -> None:
    """Write ``items`` as catalogue rows, as a sync would (new rows, in one transaction):
    COPY on PostgreSQL, ``executemany`` on SQLite."""
    synced_at = synced_at or datetime.now(UTC)
    records = [record_of(item, synced_at).values for item in items]
    if database.dialect == "postgres":
        async with database.connection.acquire_connection() as connection:
            await connection.copy_records_to_table(
                "core_library_item", records=records, columns=COLUMNS
            )
        return
    dated = [i for i, name in enumerate(COLUMNS) if name in DATETIME_COLUMNS]
    rows = []
    for values in records:
        row = list(values)
        for i in dated:
            if row[i] is not None:
                row[i] = str(row[i])
        rows.append(row)
    statement = (
        f"INSERT INTO core_library_item ({', '.join(COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in COLUMNS)})"
    )
    with database.activate():
        async with in_transaction(database.dialect) as tx:
            await tx.execute_many(statement, rows)


async def write_overrides(database: Database, items: Sequence[MediaItem], count: int) -> None:
    """Overrides on ``count`` of ``items``, spread evenly: a summary and a poster, which are
    laid over the item when it is read (the title, year and ids would also be written into
    the catalogue row, as the media API does; these leave the row as it is)."""
    now = datetime.now(UTC)
    chosen = items[:: max(1, len(items) // max(1, count))][:count]
    rows = [
        (
            item.ref.source,
            item.ref.item_id,
            f"Summary written by an admin for {item.title}.",
            f"https://images.example/{item.ref.item_id}.jpg",
            now,
        )
        for item in chosen
    ]
    columns = ("source", "item_id", "summary", "poster_url", "updated_at")
    if database.dialect == "postgres":
        async with database.connection.acquire_connection() as connection:
            await connection.copy_records_to_table(
                "core_media_override", records=rows, columns=columns
            )
        return
    statement = (
        f"INSERT INTO core_media_override ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    with database.activate():
        async with in_transaction(database.dialect) as tx:
            await tx.execute_many(statement, [(*row[:4], str(row[4])) for row in rows])


# -- the searches --------------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    """One timed search and the class it belongs to."""

    cls: str
    request: SearchRequest


QUERY_CLASSES: dict[str, float] = {
    "full_title": 0.15,
    "first_word": 0.12,
    "first_words": 0.12,
    "typeahead": 0.15,
    "two_words": 0.12,
    "year": 0.08,
    "episode": 0.10,
    "rare_word": 0.08,
    "common_word": 0.08,
}
"""Query classes and their share of the searches."""
_COMMON_QUERIES = ("the", "love", "night", "man", "star", "of", "dead", "home", "a", "king")


def searches(items: Sequence[MediaItem], count: int, seed: int = 5) -> list[Search]:
    """``count`` searches drawn from the library's own titles, in the class shares."""
    rng = random.Random(seed)
    works = [i for i in items if i.kind in DEFAULT_KINDS and len(words_of(i.title)) >= 1]
    multi = [i for i in works if len(words_of(i.title)) >= 2]
    episodes = [i for i in items if i.kind is MediaKind.EPISODE]
    counts: dict[str, int] = {}
    for item in items:
        for word in set(words_of(item.title)):
            counts[word] = counts.get(word, 0) + 1
    rare = sorted(w for w, n in counts.items() if n <= 3 and len(w) > 3)
    names = list(QUERY_CLASSES)
    weights = list(QUERY_CLASSES.values())
    out = []
    for cls in rng.choices(names, weights=weights, k=count):
        kinds = DEFAULT_KINDS
        year = None
        if cls == "full_title":
            text = rng.choice(works).title
        elif cls == "first_word":
            text = words_of(rng.choice(works).title)[0]
        elif cls == "first_words":
            text = " ".join(words_of(rng.choice(multi).title)[:2])
        elif cls == "typeahead":
            words = words_of(rng.choice(multi).title)
            cut = rng.randint(1, len(words) - 1)
            last = words[cut]
            text = " ".join([*words[:cut], last[: max(1, min(len(last), rng.randint(2, 3)))]])
        elif cls == "two_words":
            words = words_of(rng.choice(multi).title)
            text = " ".join(rng.sample(words, 2))
        elif cls == "year":
            item = rng.choice([i for i in rng.sample(works, 20) if i.year] or works)
            text, year = words_of(item.title)[0], item.year
        elif cls == "episode":
            kinds = frozenset({MediaKind.EPISODE})
            episode = rng.choice(episodes)
            text = (
                f"episode {rng.randint(1, 24)}"
                if rng.random() < 0.4
                else " ".join(words_of(episode.title)[:2])
            )
        elif cls == "rare_word":
            text = rng.choice(rare) if rare else "zyzzyva"
        else:
            text = rng.choice(_COMMON_QUERIES)
        out.append(Search(cls, SearchRequest(text=text, kinds=kinds, year=year)))
    return out


@dataclass
class Timings:
    """Milliseconds per search, by class; hits found per search."""

    by_class: dict[str, list[float]] = field(default_factory=dict)
    hits: list[int] = field(default_factory=list)

    @property
    def all(self) -> list[float]:
        return [ms for samples in self.by_class.values() for ms in samples]


async def time_searches(catalogue: Catalogue, plan: Sequence[Search], warmup: int) -> Timings:
    """Run the warm-up searches untimed, then each search of ``plan`` timed on its own.

    The garbage collector's long-lived objects (the generated library) are frozen first, so
    a collection walking them does not land on some search: a hub does not hold them.
    """
    for search in plan[:warmup]:
        await catalogue.search(search.request, SOURCES, WINDOW)
    timings = Timings()
    clock = time.perf_counter
    gc.collect()
    gc.freeze()
    try:
        for search in plan[warmup:]:
            started = clock()
            hits = await catalogue.search(search.request, SOURCES, WINDOW)
            elapsed = (clock() - started) * 1000
            timings.by_class.setdefault(search.cls, []).append(elapsed)
            timings.hits.append(len(hits))
    finally:
        gc.unfreeze()
    return timings


# -- each database -------------------------------------------------------------------------


@dataclass
class Scenario:
    """What one database measured: with every index the search wants, and as the
    migrations leave it when some are missing."""

    seed_seconds: float
    analyze_seconds: float
    timings: Timings
    missing: list[str] = field(default_factory=list)
    index_seconds: float = 0.0
    as_migrated: Timings | None = None


async def analyze(database: Database) -> None:
    """Fresh statistics, and on PostgreSQL the state autovacuum leaves a synced catalogue in
    (the full-text index's pending list merged, the visibility map set)."""
    if database.dialect == "postgres":
        async with database.connection.acquire_connection() as connection:
            await connection.execute("VACUUM ANALYZE core_library_item")
            await connection.execute("ANALYZE core_media_override")
        return
    with database.activate():
        await database.connection.execute_query("ANALYZE")


async def index_names(database: Database) -> set[str]:
    """The names of the indexes on the catalogue table."""
    if database.dialect == "postgres":
        async with database.connection.acquire_connection() as connection:
            rows = await connection.fetch(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'core_library_item'"
            )
        return {row[0] for row in rows}
    with database.activate():
        _, rows = await database.connection.execute_query(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'core_library_item'"
        )
    return {row[0] for row in rows}


async def create_indexes(database: Database, statements: Sequence[str]) -> None:
    """Run ``statements`` (index creations)."""
    if database.dialect == "postgres":
        async with database.connection.acquire_connection() as connection:
            for statement in statements:
                await connection.execute(statement)
        return
    with database.activate():
        for statement in statements:
            await database.connection.execute_script(statement)


async def scenario(
    url: str, items: Sequence[MediaItem], plan: Sequence[Search], params: Params
) -> Scenario:
    """Migrate ``url``, seed it, analyse it, time the searches; closes the database.

    When some of :data:`SEARCH_INDEXES` are missing, a sample of the searches is timed
    first as the migrations leave the database, then the missing indexes are created and
    everything is timed with them.
    """
    database = Database(url)
    await database.open()
    try:
        await database.migrate()
        started = time.perf_counter()
        await seed_catalogue(database, items)
        await write_overrides(database, items, params.overrides)
        seeded = time.perf_counter() - started
        started = time.perf_counter()
        await analyze(database)
        analysed = time.perf_counter() - started
        catalogue = Catalogue(database)
        present = await index_names(database)
        wanted = SEARCH_INDEXES[database.dialect]
        missing = [(name, sql) for name, sql in wanted if name not in present]
        measured = Scenario(seed_seconds=seeded, analyze_seconds=analysed, timings=Timings())
        if missing:
            sample = plan[: params.warmup // 4 + params.as_migrated]
            measured.as_migrated = await time_searches(catalogue, sample, params.warmup // 4)
            started = time.perf_counter()
            await create_indexes(database, [sql for _, sql in missing])
            await analyze(database)
            measured.index_seconds = time.perf_counter() - started
            measured.missing = [name for name, _ in missing]
        measured.timings = await time_searches(catalogue, plan, params.warmup)
    finally:
        await database.close()
    return measured


def add_latency(result: Result, key: str, label: str, timings: Timings, *, target: bool) -> bool:
    """p50, p90, p99 and max of ``timings``; whether p99 is under the target."""
    samples = timings.all
    p99 = percentile(samples, 99)
    for pct in (50, 90, 99):
        result.add(
            f"{key}.p{pct}_ms",
            f"{label}: search p{pct}",
            round(percentile(samples, pct), 3),
            "ms",
            target=f"< {TARGET_P99_MS:g} ms" if pct == 99 and target else None,
        )
    result.add(f"{key}.max_ms", f"{label}: search max", round(max(samples), 3), "ms")
    return p99 < TARGET_P99_MS


def add_scenario(result: Result, key: str, name: str, measured: Scenario) -> None:
    """Seeding time, latency percentiles overall and per class, and the target."""
    seeding = round(measured.seed_seconds, 2)
    result.add(f"{key}.seed_seconds", f"{name}: seeding (rows + overrides)", seeding, "s")
    analysing = round(measured.analyze_seconds, 2)
    result.add(f"{key}.analyze_seconds", f"{name}: VACUUM ANALYZE / ANALYZE", analysing, "s")
    met = add_latency(result, key, name, measured.timings, target=True)
    result.add(
        f"{key}.target_met",
        f"{name}: p99 under {TARGET_P99_MS:g} ms (1 = yes)",
        int(met),
        "",
        target="1",
    )
    hits = measured.timings.hits
    result.add(
        f"{key}.mean_hits", f"{name}: hits per search (mean)", round(sum(hits) / len(hits), 1), ""
    )
    for cls in QUERY_CLASSES:
        got = measured.timings.by_class.get(cls)
        if not got:
            continue
        label = f"{name} {cls.replace('_', ' ')}"
        result.add(f"{key}.{cls}.p50_ms", f"{label}: p50", round(percentile(got, 50), 3), "ms")
        result.add(f"{key}.{cls}.p99_ms", f"{label}: p99", round(percentile(got, 99), 3), "ms")
    if measured.as_migrated is not None:
        label = f"{name} as migrated"
        add_latency(result, f"{key}.as_migrated", label, measured.as_migrated, target=False)
        result.add(
            f"{key}.index_seconds",
            f"{name}: creating the missing indexes",
            round(measured.index_seconds, 2),
            "s",
        )
        result.notes.append(
            f"{name}: the migrations lack {', '.join(measured.missing)} (SEARCH_INDEXES in "
            "medianest.core.search.catalogue); the benchmark created them after timing "
            f"{len(measured.as_migrated.all)} searches without them ('as migrated' figures)"
        )
    if not met:
        result.notes.append(
            f"{name}: p99 {percentile(measured.timings.all, 99):.2f} ms misses the "
            f"{TARGET_P99_MS:g} ms target"
        )


# -- the benchmark -------------------------------------------------------------------------


async def run(quick: bool) -> Result:
    """Seed and search PostgreSQL (when reachable), then SQLite."""
    params = QUICK if quick else FULL
    started = time.perf_counter()
    items = library(params.items)
    generated = time.perf_counter() - started
    plan = searches(items, params.warmup + params.searches)
    kinds: dict[str, int] = {}
    for item in items:
        kinds[item.kind.value] = kinds.get(item.kind.value, 0) + 1
    result = Result(
        name="catalogue_search",
        title=f"catalogue search over {len(items):,} items, in-process (PostgreSQL, SQLite)",
        params={
            "items": len(items),
            "kinds": kinds,
            "sources": list(SOURCES),
            "overrides": params.overrides,
            "searches": params.searches,
            "warmup_searches": params.warmup,
            "rows_per_search": WINDOW,
            "query_classes": QUERY_CLASSES,
            "library_generation_seconds": round(generated, 2),
            "sqlite": sqlite3.sqlite_version,
        },
    )
    admin = await reachable_postgres(result)
    if admin is not None:
        try:
            async with fresh_database(admin) as url:
                postgres = await scenario(url, items, plan, params)
        finally:
            await admin.close()
        add_scenario(result, "postgres", "PostgreSQL", postgres)
    with tempfile.TemporaryDirectory(prefix="medianest-bench-") as tmp:
        sqlite = await scenario(f"sqlite:///{Path(tmp) / 'catalogue.db'}", items, plan, params)
    add_scenario(result, "sqlite", "SQLite", sqlite)
    if not any(sqlite.timings.hits):
        raise BenchmarkError("no search found anything: the catalogue was not seeded")
    return result
