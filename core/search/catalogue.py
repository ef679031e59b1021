"""Searching the catalogue (``core_library_item``): the synced sources, answered locally.

PostgreSQL matches the generated ``search`` tsvector (prefix ``tsquery`` built from the
request's words, passed as a parameter); SQLite matches the FTS5 index (each word a quoted
prefix string). Both order by :func:`~medianest.core.search.query.rank_key`'s order in SQL and
read only the rows asked for. Overrides are joined and laid over each item.

The search text never reaches SQL as syntax: only its words do (runs of letters and digits),
and only inside bound parameters, like the folded text and its prefix pattern or bounds.

One statement answers a search, in three parts of at most ``limit`` rows, one per match tier:
the titles equal to the text (tier 0), the titles starting with it (tier 1: a ``LIKE`` prefix
on PostgreSQL, a range of the folded title on SQLite) and the items holding every word (tier
2). A part runs only while the better ones leave room, and reads its rows one of two ways:

- *sorted*: its matches from the title or full-text index, then sorted; cheap when few;
- *walked*: the items in search order (newer year, later time added) from a ranked index,
  each checked until ``limit`` match; cheap when matches are many ("the"), which is when
  sorting them all is not.

A part's matches are counted in its index up to a cap; many, and it walks. A walk reads a
bounded stretch of the ranked index (all of a year's items, with a year): matches can be many
yet rare among the kinds asked for ("season" among films), and when the walk ends short the
part is read sorted after all. SQLite decides every part so; PostgreSQL the titles starting
with the text only, and leaves the equal titles and the words to its planner, which knows
words from its statistics (each search is planned with its own values). Items and overrides
are read for the returned rows only.

Results never depend on indexes; speed does. Beyond migration 0004's full-text indexes, a
search needs :data:`SEARCH_INDEXES` (created by migration 0005): ranked indexes to walk,
title indexes of works only to count and read a prefix among works, and on PostgreSQL a
prefix index it can use for ``LIKE`` whatever the database's collation.
"""

# Statements are assembled from this module's constant fragments and placeholders; every
# value is bound (the same reason core/sync/store.py is exempt in pyproject.toml).
# ruff: noqa: S608

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from medianest.core.db import Database
from medianest.core.db.overrides import apply_override
from medianest.core.db.records import item_of
from medianest.core.search.query import MatchTier, SearchRequest, match_tier, rank_key
from medianest.sdk.models import MediaItem

ExternalKey = tuple[str, str | int]
"""An external id as ``(scheme, value)``: ``("imdb", "tt0133093")``, ``("tmdb", 603)``."""

EXTERNAL_SCHEMES: dict[str, type] = {"imdb": str, "tmdb": int, "tvdb": int, "youtube": str}
"""The external ids the catalogue has a column (and a partial index) for, with their type."""

PART_KINDS = ("season", "episode", "track")
"""Kinds that are parts of works. A search without them walks the works' ranked index."""

COMMON_WORDS = frozenset(
    "a an and at by de del der des di die du el en et for from il in la las le les lo los "
    "of on or the to und with".split()
)
"""Words in so many titles that looking them up in PostgreSQL's full-text index costs more
than checking them on the rows the other words find (the results are the same)."""

_RANK_KEY = "(COALESCE(year, 0)) DESC, (COALESCE(added_at, '1970-01-01 00:00:00+00:00')) DESC"
SEARCH_INDEXES: dict[str, tuple[tuple[str, str], ...]] = {
    "postgres": (
        (
            "core_library_item_title_prefix",
            "CREATE INDEX core_library_item_title_prefix ON core_library_item "
            "(lower(title) text_pattern_ops)",
        ),
        (
            "core_library_item_title_prefix_works",
            "CREATE INDEX core_library_item_title_prefix_works ON core_library_item "
            "(lower(title) text_pattern_ops) WHERE kind NOT IN ('season', 'episode', 'track')",
        ),
        (
            "core_library_item_rank",
            f"CREATE INDEX core_library_item_rank ON core_library_item ({_RANK_KEY})",
        ),
        (
            "core_library_item_rank_works",
            f"CREATE INDEX core_library_item_rank_works ON core_library_item ({_RANK_KEY}) "
            "WHERE kind NOT IN ('season', 'episode', 'track')",
        ),
    ),
    "sqlite": (
        (
            "core_library_item_title_works",
            "CREATE INDEX core_library_item_title_works ON core_library_item (lower(title)) "
            "WHERE kind NOT IN ('season', 'episode', 'track')",
        ),
        (
            "core_library_item_rank",
            f"CREATE INDEX core_library_item_rank ON core_library_item ({_RANK_KEY})",
        ),
        (
            "core_library_item_rank_works",
            f"CREATE INDEX core_library_item_rank_works ON core_library_item ({_RANK_KEY}) "
            "WHERE kind NOT IN ('season', 'episode', 'track')",
        ),
    ),
}
"""Per dialect, ``(name, statement)`` of the indexes a search needs beyond the migrations':
the search order (newer year, later time added) over every item and over works only, to
walk; the folded title of works only, to count and read a prefix among works ("sea" starts
thousands of seasons' titles); on PostgreSQL, the folded title in an operator class
``LIKE`` prefixes can use whatever the database's collation."""

_ESCAPE = "!"
"""The ``LIKE`` escape character (PostgreSQL)."""

_EPOCH = "'1970-01-01 00:00:00+00:00'"
"""Where an item never added sorts: :func:`rank_key` reads a missing time added as 0."""

_OVERRIDE_COLUMNS = ("id", "title", "year", "summary", "imdb", "tmdb", "tvdb", "poster_url")
_OVERRIDE_SELECT = ", ".join(f"o.{c}" for c in _OVERRIDE_COLUMNS)
_OVERRIDE_JOIN = "LEFT JOIN core_media_override o ON o.source = i.source AND o.item_id = i.item_id"


@dataclass(frozen=True, slots=True)
class CatalogueHit:
    """One catalogue item matching a search, with how well its title matched."""

    item: MediaItem
    tier: MatchTier


class Catalogue:
    """Read side of the catalogue for search, on either database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def search(
        self, request: SearchRequest, sources: Collection[str], limit: int
    ) -> list[CatalogueHit]:
        """The first ``limit`` matches of ``request`` among ``sources``' items, best first.

        Filters by ``request.kinds`` and ``request.year``; ``request.offset`` is ignored
        (the caller merges and pages). A request without words, or empty ``sources``,
        finds nothing without asking the database.
        """
        words = request.words
        if not words or not sources or not request.kinds or limit <= 0:
            return []
        statement = _SearchStatement(
            postgres=self._database.dialect == "postgres",
            words=words,
            folded=_storable(request.folded),
            sources=sorted(set(sources)),
            kinds=sorted(kind.value for kind in request.kinds),
            year=request.year,
            limit=limit,
        ).build()
        rows = await self._fetch(statement)
        hits = []
        for row in rows:
            item = _overridden(item_of(row[1]), row, 2)
            # SQL folds the case of ASCII letters only and leaves inner whitespace alone; the
            # shared rule decides whenever it matches (it does for every ASCII title).
            tier = match_tier(request, item.title)
            hits.append(CatalogueHit(item=item, tier=MatchTier(row[0]) if tier is None else tier))
        hits.sort(key=lambda hit: rank_key(hit.tier, hit.item))
        return hits

    async def by_external_ids(
        self, keys: Iterable[ExternalKey], *, sources: Collection[str] | None = None
    ) -> list[MediaItem]:
        """Every catalogue item carrying one of ``keys`` (in ``sources``, if given)."""
        wanted = _external_values(keys)
        if not wanted or (sources is not None and not sources):
            return []
        sql = _Sql(self._database.dialect == "postgres")
        # One arm per id column, each through its partial index ("IS NOT NULL" says the
        # index applies); an OR of the arms would read the whole catalogue on SQLite.
        arms = [
            f"SELECT id FROM core_library_item WHERE {scheme} IS NOT NULL "
            f"AND {scheme} {sql.among(scheme, values)}"
            for scheme, values in wanted.items()
        ]
        where = f"i.id IN ({' UNION '.join(arms)})"
        if sources is not None:
            where += f" AND i.source {sql.among('sources', sorted(set(sources)))}"
        rows = await self._fetch(
            sql.done(
                f"SELECT i.data, {_OVERRIDE_SELECT} FROM core_library_item i "
                f"{_OVERRIDE_JOIN} WHERE {where} ORDER BY i.source, i.item_id"
            )
        )
        return [_overridden(item_of(row[0]), row, 1) for row in rows]

    async def _fetch(self, statement: tuple[str, Any]) -> Sequence[Any]:
        text, args = statement
        if self._database.dialect == "postgres":
            async with self._database.connection.acquire_connection() as connection:
                # The unnamed statement: planned with these values every time (a cached
                # generic plan cannot know whether a word is common or rare).
                prepared = await connection.prepare(text, name="")
                rows: Sequence[Any] = await prepared.fetch(*args)
                return rows
        with self._database.activate():
            _, rows = await self._database.connection.execute_query(text, args)
        return rows


# -- statements ----------------------------------------------------------------------------
# Assembled from this module's constants and from placeholders; every value is bound.

_WORKS = f"m.kind NOT IN ({', '.join(repr(k) for k in PART_KINDS)})"
"""A search for works only, in the words of the works indexes' predicate."""


class _Sql:
    """Placeholders in the dialect's style: ``$n`` (asyncpg) or ``:pn`` (sqlite3, bound by
    name). A placeholder is named for its role, so the text can use it many times."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self._values: list[Any] = []
        self._names: dict[str, str] = {}

    def __call__(self, role: str, value: Any, cast: str = "") -> str:
        """The placeholder of ``role`` (bound to ``value`` the first time)."""
        name = self._names.get(role)
        if name is None:
            self._values.append(value)
            number = len(self._values)
            name = f"${number}{cast}" if self.postgres else f":p{number}"
            self._names[role] = name
        return name

    def among(self, role: str, values: Sequence[Any]) -> str:
        """Membership in ``values``: ``= ANY(array)`` on PostgreSQL, ``IN`` a JSON array's
        values on SQLite (one parameter however many values)."""
        if self.postgres:
            cast = "::int[]" if isinstance(values[0], int) else "::varchar[]"
            return f"= ANY({self(role, list(values), cast)})"
        return f"IN (SELECT value FROM json_each({self(role, json.dumps(list(values)))}))"

    def done(self, text: str) -> tuple[str, Any]:
        """The statement and its values, as the driver takes them."""
        if self.postgres:
            return text, self._values
        return text, {f"p{n}": value for n, value in enumerate(self._values, start=1)}


@dataclass(frozen=True, slots=True)
class _Part:
    """How one tier's rows are found.

    :param count: a capped count of its matches in an index; ``None``: the planner chooses
        between walking and sorting (PostgreSQL, words: its statistics know them).
    :param source: the ``FROM`` of the sorted way.
    :param where: the matches, as the index of the sorted way serves them.
    :param walked: the matches, checked on a walked row ``s``.
    """

    count: str | None
    source: str
    where: str
    walked: str = ""


class _SearchStatement:
    """The statement of one search (its shape: see the module)."""

    def __init__(
        self,
        *,
        postgres: bool,
        words: list[str],
        folded: str,
        sources: list[str],
        kinds: list[str],
        year: int | None,
        limit: int,
    ) -> None:
        self.postgres = postgres
        self.sql = sql = _Sql(postgres)
        self.words = words
        self.folded = folded
        self.works = not any(kind in PART_KINDS for kind in kinds)
        self.year = year
        cap = _walk_threshold(limit)
        self._steps = 3 * cap
        self.limit = sql("limit", limit)
        self.cap = sql("cap", cap)
        self.steps = sql("steps", self._steps) if postgres else ""
        self.sources = sql.among("sources", sources)
        self.kinds = sql.among("kinds", kinds)
        # The filters of the ways stay off the (source, kind) index, "IS TRUE" or a unary
        # "+" keeping their estimates: each way has its own index, and ANDing in the
        # thousands of rows of a few kinds costs more than it saves. PostgreSQL sees from
        # the kinds alone when the works indexes apply; SQLite must be told their condition.
        if postgres:
            filters = [f"(m.source {self.sources}) IS TRUE", f"m.kind {self.kinds}"]
        else:
            filters = [f"+m.source {self.sources}", f"+m.kind {self.kinds}"]
            if self.works:
                filters.append(_WORKS)
        if year is not None:
            filters.append(f"COALESCE(m.year, 0) = {sql('year', year)}")
        self.filters = " AND ".join(filters)

    def build(self) -> tuple[str, Any]:
        """The statement and its values."""
        sql = self.sql
        parts = self._postgres_parts() if self.postgres else self._sqlite_parts()
        ctes = self._reach()
        for number, part in enumerate(parts):
            room = " AND ".join(
                f"(SELECT count(*) FROM p{before}) < {self.limit}" for before in range(number)
            )
            ctes += self._part(number, part, room)
        tier = (
            f"CASE WHEN h.title = {sql('folded', self.folded)} THEN 0 "
            f"WHEN {self._prefixed('h.title')} THEN 1 ELSE 2 END"
        )
        join, serial = _OVERRIDE_JOIN, ""
        if self.postgres:
            # One unique-index lookup per row whatever the estimate of the rows found (a
            # low one gets a nested loop over a scan of every override otherwise).
            join = (
                f"LEFT JOIN LATERAL (SELECT {', '.join(_OVERRIDE_COLUMNS)} "
                "FROM core_media_override WHERE source = i.source AND item_id = i.item_id "
                "LIMIT 1) o ON true"
            )
            # current_schema() is PARALLEL UNSAFE: no parallel workers for this statement.
            # Starting them costs more than a whole search, and a part that does not run
            # would still start its workers (its gate is checked in each of them).
            serial = " AND current_schema() IS NOT NULL"
        return sql.done(
            f"WITH {', '.join(ctes)} SELECT h.part, i.data, {_OVERRIDE_SELECT} FROM "
            "(SELECT * FROM p0 UNION ALL SELECT * FROM p1 UNION ALL SELECT * FROM p2) AS h "
            f"JOIN core_library_item i ON i.id = h.id {join} WHERE h.part = {tier}{serial} "
            f"ORDER BY h.part, {self._order('h')} LIMIT {self.limit}"
        )

    def _reach(self) -> list[str]:
        """The CTEs telling how far a walk may go.

        PostgreSQL: ``r.items``, how many items of the sources and kinds there are, counted
        in the (source, kind) index up to the bound: below it, a walk that ends saw them all.
        SQLite: ``b<part>``, the search-order key of the item at the bound (``y`` < 0: there
        are fewer), found in the ranked index alone; a walk reads the items up to that key.
        Its bound is larger for the words, whose walk reads the ranked index only until the
        words match (the titles' reads each item).
        """
        sql = self.sql
        if self.postgres:
            return [
                "r AS (SELECT count(*) AS items FROM (SELECT 1 FROM core_library_item m "
                f"WHERE m.source {self.sources} AND m.kind {self.kinds} "
                f"LIMIT {self.steps}) AS x)"
            ]
        ranked = [_WORKS] if self.works else []
        if self.year is not None:
            ranked.append(f"COALESCE(m.year, 0) = {sql('year', self.year)}")
        where = f"WHERE {' AND '.join(ranked)} " if ranked else ""
        ctes = []
        for name, steps in (("titles", self._steps), ("words", 3 * self._steps)):
            ctes.append(
                f"b_{name} AS (SELECT COALESCE(max(y), -1) AS y, COALESCE(max(a), '') AS a "
                f"FROM (SELECT COALESCE(m.year, 0) AS y, COALESCE(m.added_at, {_EPOCH}) AS a "
                f"FROM core_library_item m {where}ORDER BY 1 DESC, 2 DESC "
                f"LIMIT 1 OFFSET {sql(f'offset_{name}', steps - 1)}) AS x)"
            )
        return ctes

    def _part(self, number: int, part: _Part, room: str) -> list[str]:
        """The CTEs of part ``number`` (``p<number>`` and what it is made of); it runs only
        when ``room`` holds (the better parts found fewer rows than asked for)."""
        columns = f"m.id, {number} AS part, {self._keys()}"
        sort = f"SELECT {columns} FROM {part.source} WHERE {part.where} AND {self.filters}"
        if part.count is None:
            return [f"p{number} AS ({self._limited(sort, self._order('m'), room)})"]
        walked = f"(SELECT count(*) FROM w{number}) >= {self.limit}"
        if self.postgres:
            # The ranked items (up to the bound; with a year, all of that year's), each
            # checked until enough match.
            bound = f" LIMIT {self.steps}" if self.year is None else ""
            ranked = (
                f"SELECT m.id, {self._keys()} FROM core_library_item m "
                f"WHERE {self.filters} ORDER BY {self._order('m')}{bound}"
            )
            walk = (
                f"SELECT s.id, {number} AS part, s.y, s.a, s.title, s.source, s.item_id "
                f"FROM ({ranked}) AS s WHERE {part.walked}"
            )
            order = self._order("s")
            complete = "TRUE"
            if self.year is None:
                complete = f"({walked} OR (SELECT items FROM r) < {self.steps})"
        else:
            # The ranked items up to the bound's key (the year bounds the index range).
            b = "b_words" if number == 2 else "b_titles"
            walk = (
                f"SELECT {columns} FROM core_library_item m WHERE {self.filters} "
                f"AND COALESCE(m.year, 0) >= (SELECT y FROM {b}) "
                f"AND (COALESCE(m.year, 0), COALESCE(m.added_at, {_EPOCH})) "
                f">= (SELECT y, a FROM {b}) AND {part.walked}"
            )
            order = self._order("m")
            complete = f"({walked} OR (SELECT y FROM {b}) < 0)"
        many = f"(SELECT matches FROM c{number}) >= {self.cap}"
        # Sorted: when the matches are few, or a bounded walk ended before finding enough.
        few = f"((SELECT matches FROM c{number}) < {self.cap} OR NOT {complete})"
        gates = [" AND ".join(filter(None, [room, condition])) for condition in (many, few)]
        return [
            f"c{number} AS ({part.count})",
            f"w{number} AS ({self._limited(walk, order, gates[0])})",
            f"s{number} AS ({self._limited(sort, self._order('m', walk=False), gates[1])})",
            f"p{number} AS (SELECT * FROM w{number} WHERE {complete} "
            f"UNION ALL SELECT * FROM s{number})",
        ]

    def _limited(self, select: str, order: str, gate: str) -> str:
        """``select`` ordered and limited, run only when ``gate`` holds: PostgreSQL runs such
        a condition first, once; SQLite skips a query whose ``LIMIT`` is 0 before anything."""
        if not gate:
            return f"{select} ORDER BY {order} LIMIT {self.limit}"
        if self.postgres:
            return f"{select} AND {gate} ORDER BY {order} LIMIT {self.limit}"
        return f"{select} ORDER BY {order} LIMIT CASE WHEN {gate} THEN {self.limit} ELSE 0 END"

    def _keys(self) -> str:
        """An item's search-order key as the columns every part returns: ``y`` the year (0
        when unknown), ``a`` the time added (the epoch when unknown), the folded ``title``,
        ``source``, ``item_id`` (compared by code point on PostgreSQL, as SQLite does)."""
        collate = ' COLLATE "C"' if self.postgres else ""
        return (
            f"COALESCE(m.year, 0) AS y, COALESCE(m.added_at, {_EPOCH}) AS a, "
            f"lower(m.title){collate} AS title, m.source{collate} AS source, "
            f"m.item_id{collate} AS item_id"
        )

    def _order(self, alias: str, *, walk: bool = True) -> str:
        """:func:`rank_key`'s order: of the items (``m``), or of rows with :meth:`_keys`'s
        columns. ``walk=False``: with the year as an expression no index has, so the rows
        are sorted, never walked."""
        if alias != "m":
            return f"{alias}.y DESC, {alias}.a DESC, {alias}.title, {alias}.source, {alias}.item_id"
        collate = ' COLLATE "C"' if self.postgres else ""
        year = "COALESCE(m.year, 0)" + ("" if walk else " + 0")
        return (
            f"{year} DESC, COALESCE(m.added_at, {_EPOCH}) DESC, lower(m.title){collate}, "
            f"m.source{collate}, m.item_id{collate}"
        )

    def _prefixed(self, title: str) -> str:
        """Whether ``title`` (folded) starts with the text."""
        sql = self.sql
        if self.postgres:
            return f"{title} LIKE {sql('pattern', like_prefix(self.folded))} ESCAPE '{_ESCAPE}'"
        low, high = sql("folded", self.folded), sql("high", _successor(self.folded))
        return f"{title} >= {low} AND {title} < {high}"

    def _count(self, source: str, where: str) -> str:
        """How many rows of ``source`` match ``where``, counted up to the walk threshold."""
        return (
            f"SELECT count(*) AS matches FROM (SELECT 1 FROM {source} WHERE {where} "
            f"LIMIT {self.cap}) AS x"
        )

    def _titles(self) -> list[_Part]:
        """The parts matching titles: equal to the text, starting with it. Counted in a title
        index of works only when only works are asked for: a text may start thousands of
        seasons' titles ("sea") and few films'."""
        folded = self.sql("folded", self.folded)
        table = "core_library_item m"
        works = f" AND {_WORKS}" if self.works else ""
        exact = f"lower(m.title) = {folded}"
        prefixed = self._prefixed("lower(m.title)")
        if self.postgres:
            # Thousands of equal titles are parts' ("Episode 1"), which PostgreSQL's
            # statistics know: its planner chooses (and plans a smaller statement).
            return [
                _Part(None, table, exact),
                _Part(
                    self._count(table, prefixed + works), table, prefixed, self._prefixed("s.title")
                ),
            ]
        # The unary "+" keeps a walk on the ranked index.
        return [
            _Part(self._count(table, exact + works), table, exact, f"+{exact}"),
            _Part(
                self._count(table, prefixed + works),
                table,
                prefixed,
                self._prefixed("+lower(m.title)"),
            ),
        ]

    def _postgres_parts(self) -> list[_Part]:
        sql = self.sql
        # Common words are checked on the rows the others find: looked up in the index, a
        # prefix as common as "the:*" reads most of it. Not the last word: it is the one
        # being typed, and narrows as it grows ("the las").
        common = [word for word in self.words[:-1] if word in COMMON_WORDS]
        distinctive = [w for w in self.words[:-1] if w not in COMMON_WORDS] + self.words[-1:]
        words = f"m.search @@ to_tsquery('simple', {sql('distinctive', _tsquery(distinctive))})"
        if common:
            query = sql("common", _tsquery(common))
            words += f" AND (m.search @@ to_tsquery('simple', {query})) IS TRUE"
        table = "core_library_item m"
        return [*self._titles(), _Part(count=None, source=table, where=words)]

    def _sqlite_parts(self) -> list[_Part]:
        match = self.sql("match", " ".join(f'"{word}"*' for word in self.words))
        fts = "core_library_item_fts"
        words = _Part(
            count=self._count(fts, f"{fts} MATCH {match}"),
            # The FTS5 index drives (CROSS JOIN keeps it first): its rowids are the ids.
            source=f"{fts} f CROSS JOIN core_library_item m ON m.id = f.rowid",
            where=f"{fts} MATCH {match}",
            walked=f"+m.id IN (SELECT rowid FROM {fts} WHERE {fts} MATCH {match})",
        )
        return [*self._titles(), words]


def _storable(text: str) -> str:
    """``text`` without what no stored title holds and the drivers refuse to send: NUL and
    lone surrogates (a text with them still finds titles by its words)."""
    if "\x00" in text or any("\ud800" <= char <= "\udfff" for char in text):
        return "".join(c for c in text if c != "\x00" and not "\ud800" <= c <= "\udfff")
    return text


def _tsquery(words: Sequence[str]) -> str:
    """The tsquery text matching items with a word starting with each of ``words``."""
    return " & ".join(f"{word}:*" for word in words)


def like_prefix(text: str) -> str:
    """A ``LIKE`` pattern (escape character ``!``) matching what starts with ``text``."""
    escaped = text.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%")
    return escaped.replace("_", _ESCAPE + "_") + "%"


def _successor(text: str) -> str | bytes:
    """The least string above every string starting with ``text`` (code point order).

    SQLite compares text as UTF-8 bytes, which is code point order: a title starts with
    ``text`` exactly when ``text <= title < _successor(text)``. When no string is above them
    (``text`` is all U+10FFFF), an empty blob: SQLite orders every text before any blob.
    """
    chars = list(text)
    while chars:
        code = ord(chars.pop()) + 1
        if code == 0xD800:  # surrogates are no characters
            code = 0xE000
        if code <= 0x10FFFF:
            return "".join(chars) + chr(code)
    return b""


def _walk_threshold(limit: int) -> int:
    """From how many matches a part walks rather than sorts, for ``limit`` rows: about where
    both cost the same (a walk then reads at most three times this many items)."""
    return max(500, min(20_000, int(150 * math.sqrt(limit))))


def _overridden(item: MediaItem, row: Any, start: int) -> MediaItem:
    """``item`` with the override in ``row`` (columns from ``start`` on) laid over it."""
    if row[start] is None:
        return item
    override = {name: row[start + i] for i, name in enumerate(_OVERRIDE_COLUMNS)}
    return apply_override(item, override)


def _external_values(keys: Iterable[ExternalKey]) -> dict[str, list[Any]]:
    """The values to look up per scheme, typed as their column; unknown schemes and values
    that cannot be ids of theirs are left out."""
    wanted: dict[str, dict[Any, None]] = {}
    for scheme, value in keys:
        kind = EXTERNAL_SCHEMES.get(scheme)
        if kind is None or isinstance(value, bool):
            continue
        if kind is int:
            try:
                number = int(value)
            except (TypeError, ValueError):
                continue
            if not 0 < number < 2**31:
                continue
            wanted.setdefault(scheme, {})[number] = None
        elif isinstance(value, str) and value:
            wanted.setdefault(scheme, {})[value] = None
    return {scheme: list(values) for scheme, values in wanted.items()}
