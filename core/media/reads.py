"""Reading the catalogue for the media API: one item with its family and its copies in other
sources, recently added, and browsing. Every item comes with its admin override laid over it
(:func:`~medianest.core.db.overrides.apply_override`).

Lists page by keyset: a cursor holds the order it was made for, the sort key of the last item
shown and its row id, so the next page is one index range, as cheap at the thousandth page as
at the first. Each order has its index of ``(key, id)`` (migration 0005), and the statements
here order by the very same expressions:

- title: ``lower(title)`` (the catalogue's title, so an overridden title sorts as shown);
- year: ``COALESCE(year, 0)``: items without a year come first ascending, last descending;
- added: ``COALESCE(added_at, <the epoch>)``: likewise items never dated.

Statements are plain SQL with bound parameters on either database (``$n`` on PostgreSQL,
``?`` on SQLite); nothing a caller sends becomes SQL syntax. PostgreSQL plans from its
statistics. SQLite usually has none (no ``ANALYZE``) and, with or without, cannot tell a rare
kind from a common one, so its statements say which way to go: when more than
:data:`SORT_IN_MEMORY` rows match, the source and kind terms are marked unindexable
(``+column``) and the order's index drives; fewer are found through the filters' index and
sorted, the order's index kept out of it.
"""

# Statements are assembled from this module's constant columns, keys and placeholders only.
# ruff: noqa: S608

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeGuard

import structlog
from pydantic import ValidationError

from medianest.core.db import Database
from medianest.core.db.overrides import OVERRIDE_FIELDS, apply_override
from medianest.core.db.records import item_of
from medianest.sdk.errors import InvalidInputError
from medianest.sdk.models import MediaItem, MediaKind, decode_cursor, encode_cursor

log = structlog.get_logger(__name__)

Sort = Literal["title", "-title", "added", "-added", "year", "-year"]
"""How a library is browsed: by title, time added or year; ``-`` for descending."""

MAX_CHILDREN = 1000
"""The most children a details view lists (``children_total`` counts them all)."""

MAX_COPIES = 100
"""The most copies in other sources a details view lists."""

RECENT_KINDS: frozenset[MediaKind] = frozenset(MediaKind) - {MediaKind.SEASON}
"""What recently added lists without ``kind``: everything but seasons (a new season shows as
its episodes)."""

EXTERNAL_ID_COLUMNS = ("imdb", "tmdb", "tvdb", "youtube")
"""External ids that match one work across sources (each has a partial index)."""

_EPOCH = "'1970-01-01 00:00:00+00:00'"
_KEYS: dict[str, str] = {
    "title": "lower(m.title)",
    "year": "COALESCE(m.year, 0)",
    "added": f"COALESCE(m.added_at, {_EPOCH})",
}
"""Sort keys, written exactly as migration 0005 indexes them (with the table alias ``m``)."""

SORT_IN_MEMORY = 5000
"""SQLite: matching rows up to which a list is found by its filters and sorted, not read
along its order's index (see the module notes)."""

_RECENT = "recent"
"""The order of recently added, as cursors name it (newest first)."""

_KEY_IN_CURSOR = 300
"""Title keys longer than this once in the cursor (JSON escapes non-ASCII characters) stay
out of it, which must fit a query string; the key is then read back by row id."""

_INT4 = 2**31
_INT8 = 2**63
_OVERRIDE_COLUMNS = (*OVERRIDE_FIELDS, "updated_at", "updated_by")
_SELECT = "m.id AS row_id, m.parent_id, m.data, o.id AS o_id, " + ", ".join(
    f"o.{column} AS o_{column}" for column in _OVERRIDE_COLUMNS
)
_FROM = (
    "core_library_item m LEFT JOIN core_media_override o "
    "ON o.source = m.source AND o.item_id = m.item_id"
)


@dataclass(frozen=True, slots=True)
class Entry:
    """A catalogue item as shown (override laid over it) and the override itself."""

    item: MediaItem
    override: dict[str, Any] | None
    """The override's columns (``None`` where the source's value stands) with ``updated_at``
    and ``updated_by``; ``None`` when the item has no override."""
    parent_id: str | None


@dataclass(frozen=True, slots=True)
class Details:
    """One item with its children, its parent and its copies in other sources."""

    item: MediaItem
    override: dict[str, Any] | None
    in_catalogue: bool
    children: list[MediaItem]
    children_total: int
    parent: MediaItem | None
    copies: list[MediaItem]


@dataclass(frozen=True, slots=True)
class ItemPage:
    """One page of a list: the items, the next page's cursor and, when counted, the total."""

    items: list[MediaItem]
    next_cursor: str | None
    total: int | None = None


@dataclass(frozen=True, slots=True)
class BrowseRequest:
    """What ``GET /library`` asks, validated.

    :param sources: the sources to list (at least one; callers check they exist).
    :param kinds: the kinds to list; ``None``: every kind.
    :param parent: list the children of this item (with exactly one source).
    """

    sources: Sequence[str]
    kinds: frozenset[MediaKind] | None
    sort: Sort = "title"
    year: int | None = None
    year_from: int | None = None
    year_to: int | None = None
    parent: str | None = None
    limit: int = 50
    cursor: str | None = None


class MediaReads:
    """The read side of the media API over one hub's catalogue, on either database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    @property
    def _postgres(self) -> bool:
        return self._database.dialect == "postgres"

    # -- one item --------------------------------------------------------------------------

    async def entry(self, source: str, item_id: str) -> Entry | None:
        """The catalogue item ``item_id`` of ``source``, or ``None``."""
        if not storable(item_id):
            return None
        q = _Statement(self._postgres)
        rows = await self._fetch(
            q,
            f"SELECT {_SELECT} FROM {_FROM} "
            f"WHERE m.source = {q.arg(source)} AND m.item_id = {q.arg(item_id)}",
        )
        entries = _entries(rows)
        return entries[0] if entries else None

    async def details(
        self, source: str, item_id: str, *, sources: Collection[str]
    ) -> Details | None:
        """The details of a catalogue item, or ``None`` when the catalogue has no such item.

        :param sources: where copies may be (the hub's media sources).
        """
        entry = await self.entry(source, item_id)
        if entry is None:
            return None
        children, children_total = await self.children(source, item_id)
        parent = None
        if entry.parent_id is not None:
            found = await self.entry(source, entry.parent_id)
            parent = found.item if found is not None else None
        return Details(
            item=entry.item,
            override=entry.override,
            in_catalogue=True,
            children=children,
            children_total=children_total,
            parent=parent,
            copies=await self.copies(entry.item, sources=sources),
        )

    async def details_of(self, item: MediaItem, *, sources: Collection[str]) -> Details:
        """The details of an item the catalogue does not hold (asked of its source live):
        its copies in the catalogue, and its parent when the catalogue has that."""
        parent = None
        if item.parent is not None:
            found = await self.entry(item.parent.source, item.parent.item_id)
            parent = found.item if found is not None else None
        return Details(
            item=item,
            override=None,
            in_catalogue=False,
            children=[],
            children_total=0,
            parent=parent,
            copies=await self.copies(item, sources=sources),
        )

    async def children(self, source: str, item_id: str) -> tuple[list[MediaItem], int]:
        """The items whose parent is ``item_id`` (a show's seasons, a season's episodes), by
        number then title, at most :data:`MAX_CHILDREN`; and how many there are."""
        q = _Statement(self._postgres)
        where = f"m.source = {q.arg(source)} AND m.parent_id = {q.arg(item_id)}"
        rows = await self._fetch(
            q,
            f"SELECT {_SELECT} FROM {_FROM} WHERE {where} "
            "ORDER BY m.number IS NULL, m.number, lower(m.title), m.id "
            f"LIMIT {q.arg(MAX_CHILDREN)}",
        )
        items = [entry.item for entry in _entries(rows)]
        if len(rows) < MAX_CHILDREN:
            return items, len(rows)
        counting = _Statement(self._postgres)
        total = await self._scalar(
            counting,
            "SELECT count(*) AS n FROM core_library_item m "
            f"WHERE m.source = {counting.arg(source)} AND m.parent_id = {counting.arg(item_id)}",
        )
        return items, total

    async def copies(self, item: MediaItem, *, sources: Collection[str]) -> list[MediaItem]:
        """Catalogue items of the same kind sharing an external id with ``item``, but for
        ``item`` itself, in ``sources``; by source and id, at most :data:`MAX_COPIES`."""
        ids = item.ids.model_dump()
        keys = [(column, ids[column]) for column in EXTERNAL_ID_COLUMNS if ids.get(column)]
        keys = [(column, value) for column, value in keys if _id_value_fits(column, value)]
        if not keys or not sources:
            return []
        q = _Statement(self._postgres)
        matches = " OR ".join(f"m.{column} = {q.arg(value)}" for column, value in keys)
        # The external ids' partial indexes find the copies; the other terms only filter.
        kind = q.term("m.kind", indexed=False)
        statement = (
            f"SELECT {_SELECT} FROM {_FROM} WHERE ({matches}) AND {kind} = "
            f"{q.arg(item.kind.value)} AND {q.among('m.source', sorted(sources), indexed=False)} "
            f"AND NOT (m.source = {q.arg(item.ref.source)} AND m.item_id = "
            f"{q.arg(item.ref.item_id)}) ORDER BY m.source, m.item_id LIMIT {q.arg(MAX_COPIES)}"
        )
        return [entry.item for entry in _entries(await self._fetch(q, statement))]

    # -- lists -----------------------------------------------------------------------------

    async def recent(
        self,
        sources: Sequence[str],
        kinds: Collection[MediaKind],
        *,
        limit: int,
        cursor: str | None,
    ) -> ItemPage:
        """Items of ``sources`` and ``kinds`` by time added, newest first (items never dated
        are left out).

        :raises InvalidInputError: a cursor not made by this list (field ``cursor``).
        """
        if not sources or not kinds:
            return ItemPage(items=[], next_cursor=None)
        source_ids = sorted(set(sources))
        kind_names = sorted(kind.value for kind in kinds)
        ordered = True
        if not self._postgres:  # a count that stops past the threshold is enough
            counting = _Statement(self._postgres)
            ordered = SORT_IN_MEMORY < await self._scalar(
                counting,
                "SELECT count(*) AS n FROM (SELECT 1 FROM core_library_item m WHERE "
                f"{counting.among('m.source', source_ids)} AND "
                f"{counting.among('m.kind', kind_names)} LIMIT {counting.arg(SORT_IN_MEMORY + 1)})",
            )
        position = None
        if cursor is not None:
            position = await self._position(cursor, _RECENT, "added")
        q = _Statement(self._postgres)
        where = [
            f"{q.term('m.added_at', indexed=False)} IS NOT NULL",
            q.among("m.source", source_ids, indexed=not ordered),
            q.among("m.kind", kind_names, indexed=not ordered),
        ]
        return await self._ordered(
            q, where, "added", _RECENT, position=position, ordered=ordered, limit=limit
        )

    async def browse(self, request: BrowseRequest) -> ItemPage:
        """One page of the library in the order asked, with the total of the filtered list.

        :raises InvalidInputError: a cursor not made by this order (field ``cursor``).
        """
        if not request.sources or (request.kinds is not None and not request.kinds):
            return ItemPage(items=[], next_cursor=None, total=0)
        name = request.sort.removeprefix("-")
        position = None
        if request.cursor is not None:
            position = await self._position(request.cursor, request.sort, name)
        counting = _Statement(self._postgres)
        total = await self._scalar(
            counting,
            f"SELECT count(*) AS n FROM core_library_item m "
            f"WHERE {' AND '.join(_filters(counting, request))}",
        )
        ordered = total > SORT_IN_MEMORY
        q = _Statement(self._postgres)
        page = await self._ordered(
            q,
            _filters(q, request, ordered=ordered),
            name,
            request.sort,
            position=position,
            ordered=ordered,
            limit=request.limit,
        )
        return ItemPage(items=page.items, next_cursor=page.next_cursor, total=total)

    # -- helpers ---------------------------------------------------------------------------

    async def _ordered(
        self,
        q: _Statement,
        where: list[str],
        name: str,
        order: str,
        *,
        position: tuple[Any, int] | None,
        ordered: bool,
        limit: int,
    ) -> ItemPage:
        """The page after ``position`` of the rows matching ``where``, by key ``name`` (then
        id), descending for ``-`` orders and recently added.

        :param ordered: SQLite reads along the key's index; otherwise it keeps off it (the
            filters find few rows, which it sorts).
        """
        descending = order == _RECENT or order.startswith("-")
        key = q.term(_KEYS[name], indexed=ordered)
        if position is not None:
            where = [*where, q.after(key, position, descending=descending)]
        direction = "DESC" if descending else "ASC"
        rows = await self._fetch(
            q,
            f"SELECT {_SELECT}, {_KEYS[name]} AS sort_key FROM {_FROM} "
            f"WHERE {' AND '.join(where)} ORDER BY {key} {direction}, m.id {direction} "
            f"LIMIT {q.arg(limit + 1)}",
        )
        return _page(rows, limit, order)

    async def _position(self, cursor: str, order: str, name: str) -> tuple[Any, int]:
        """The ``(key, row id)`` a cursor of ``order`` holds, as the database compares it.

        :raises InvalidInputError: the cursor is malformed or made for another order.
        """
        state = decode_cursor(cursor)
        if state.get("s") != order:
            raise InvalidInputError(
                f"the cursor belongs to another order than {order}; "
                "start again from the first page without it",
                field="cursor",
            )
        row_id = state.get("i")
        if not _is_int(row_id) or not 0 < row_id < _INT8:
            raise _bad_cursor()
        if "k" not in state:
            if name != "title":
                raise _bad_cursor()
            q = _Statement(self._postgres)
            where = f"m.id = {q.arg(row_id)}"
            rows = await self._fetch(
                q, f"SELECT {_KEYS[name]} AS k FROM core_library_item m WHERE {where}"
            )
            if not rows:
                raise InvalidInputError(
                    "the item the cursor stopped at is gone; start again from the first page",
                    field="cursor",
                )
            return rows[0]["k"], row_id
        return self._key(name, state["k"]), row_id

    def _key(self, name: str, value: Any) -> Any:
        """A cursor's sort key checked, typed as the database compares it."""
        if name == "year":
            if not _is_int(value) or not -_INT4 <= value < _INT4:
                raise _bad_cursor()
            return value
        if not isinstance(value, str) or not storable(value):
            raise _bad_cursor()
        if name == "added" and self._postgres:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise _bad_cursor() from None
            if moment.tzinfo is None:
                raise _bad_cursor()
            return moment
        return value

    async def _fetch(self, q: _Statement, statement: str) -> list[dict[str, Any]]:
        return await self._database.connection.execute_query_dict(statement, q.args)

    async def _scalar(self, q: _Statement, statement: str) -> int:
        rows = await self._fetch(q, statement)
        return int(next(iter(rows[0].values())))


class _Statement:
    """Bound parameters of one statement, numbered for PostgreSQL or ``?`` for SQLite, in the
    order the statement text is written."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.args: list[Any] = []

    def arg(self, value: Any) -> str:
        """The placeholder of ``value``."""
        self.args.append(value)
        return f"${len(self.args)}" if self.postgres else "?"

    def among(self, column: str, values: Sequence[str], *, indexed: bool = True) -> str:
        """``column`` is one of ``values`` (strings).

        :param indexed: false: SQLite is not to use an index for this term.
        """
        if self.postgres:
            return f"{column} = ANY({self.arg(list(values))}::varchar[])"
        marks = ", ".join(self.arg(value) for value in values)
        return f"{self.term(column, indexed=indexed)} IN ({marks})"

    def term(self, expression: str, *, indexed: bool) -> str:
        """``expression``, marked for SQLite not to look it up in an index unless ``indexed``
        (a unary ``+``; PostgreSQL plans from its statistics)."""
        return expression if indexed or self.postgres else f"+{expression}"

    def after(self, key: str, position: tuple[Any, int], *, descending: bool) -> str:
        """Rows past ``position`` (a sort key and a row id) in the order ``key, id``.

        PostgreSQL reads a row comparison as one index range; SQLite gets the key's range
        (its index serves it) and the exact condition beside it.
        """
        value, row_id = position
        op = "<" if descending else ">"
        if self.postgres:
            return f"({key}, m.id) {op} ({self.arg(value)}, {self.arg(row_id)})"
        return (
            f"{key} {op}= {self.arg(value)} "
            f"AND ({key} {op} {self.arg(value)} OR m.id {op} {self.arg(row_id)})"
        )


def _filters(q: _Statement, request: BrowseRequest, *, ordered: bool = False) -> list[str]:
    """The conditions of ``request``.

    :param ordered: SQLite is to read along the order's index: the other terms only filter
        (but the year's, when the order is the year, and the children of one parent, always
        found by their index). Years are filtered on the year order's key, whose index then
        serves them (a missing year is 0 there, never a year asked for).
    """
    drive = ordered and request.parent is None
    indexed = not drive
    where = [q.among("m.source", sorted(set(request.sources)), indexed=indexed)]
    if request.kinds is not None:
        kinds = sorted(kind.value for kind in request.kinds)
        where.append(q.among("m.kind", kinds, indexed=indexed))
    year = q.term(_KEYS["year"], indexed=not drive or request.sort.endswith("year"))
    if request.year is not None:
        where.append(f"{year} = {q.arg(request.year)}")
    if request.year_from is not None:
        where.append(f"{year} >= {q.arg(request.year_from)}")
    if request.year_to is not None:
        where.append(f"{year} <= {q.arg(request.year_to)}")
    if request.parent is not None:
        where.append(f"m.parent_id = {q.arg(request.parent)}")
    return where


def _page(rows: list[dict[str, Any]], limit: int, order: str) -> ItemPage:
    shown = rows[:limit]
    following = None
    if len(rows) > limit:
        last = shown[-1]
        following = _cursor(order, last["sort_key"], last["row_id"])
    return ItemPage(items=[entry.item for entry in _entries(shown)], next_cursor=following)


def _cursor(order: str, key: Any, row_id: int) -> str:
    state: dict[str, Any] = {"s": order, "i": row_id}
    if isinstance(key, datetime):
        key = key.isoformat()
    if not (isinstance(key, str) and len(json.dumps(key)) > _KEY_IN_CURSOR):
        state["k"] = key
    return encode_cursor(state)


def _entries(rows: Sequence[dict[str, Any]]) -> list[Entry]:
    """The entries of ``rows`` (``_SELECT``'s columns); a row whose stored item no longer
    reads is logged and left out rather than failing the whole answer."""
    entries = []
    for row in rows:
        try:
            item = item_of(row["data"])
        except ValidationError as exc:
            log.error("catalogue item unreadable", row_id=row["row_id"], error=str(exc))
            continue
        override = None
        if row["o_id"] is not None:
            override = {column: row[f"o_{column}"] for column in _OVERRIDE_COLUMNS}
            if isinstance(override["updated_at"], str):  # SQLite keeps times as text
                override["updated_at"] = datetime.fromisoformat(override["updated_at"])
            item = apply_override(item, override)
        entries.append(Entry(item=item, override=override, parent_id=row["parent_id"]))
    return entries


def storable(text: str) -> bool:
    """Whether ``text`` can be a value of a text column (PostgreSQL refuses NUL characters,
    both databases text that is not UTF-8): anything else cannot match a stored value."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _id_value_fits(column: str, value: Any) -> bool:
    if column in ("tmdb", "tvdb"):
        return _is_int(value) and 0 < value < _INT4
    return isinstance(value, str) and storable(value)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _bad_cursor() -> InvalidInputError:
    return InvalidInputError("the cursor is not valid", field="cursor")
