"""Raw statements on the request table and the catalogue, in either SQL dialect.

The request status modules match many external ids at once; an ``OR`` of ``IN`` lists over
several columns reads the whole table on SQLite, so they ask one arm per id column (each
through its partial index) joined by ``UNION``, with every value bound: an array on
PostgreSQL, a JSON array on SQLite (one parameter however many values).
"""

# Fragments of statements: every value is bound through a placeholder.
# ruff: noqa: S608

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from medianest.core.db import Database


class Sql:
    """Placeholders in the dialect's style: ``$n`` (asyncpg) or ``:pn`` (sqlite3, by name)."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self._values: list[Any] = []

    def __call__(self, value: Any, cast: str = "") -> str:
        """A placeholder bound to ``value``."""
        self._values.append(value)
        number = len(self._values)
        return f"${number}{cast}" if self.postgres else f":p{number}"

    def among(self, values: Sequence[Any]) -> str:
        """Membership in ``values`` (not empty): ``= ANY(array)`` on PostgreSQL, ``IN`` a JSON
        array's values on SQLite."""
        if self.postgres:
            cast = "::int[]" if isinstance(values[0], int) else "::varchar[]"
            return f"= ANY({self(list(values), cast)})"
        return f"IN (SELECT value FROM json_each({self(json.dumps(list(values)))}))"

    def done(self, text: str) -> tuple[str, Any]:
        """The statement and its values, as the driver takes them."""
        if self.postgres:
            return text, self._values
        return text, {f"p{n}": value for n, value in enumerate(self._values, start=1)}


async def fetch(database: Database, statement: tuple[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of ``statement`` (from :meth:`Sql.done`) as tuples."""
    text, args = statement
    if database.dialect == "postgres":
        async with database.connection.acquire_connection() as connection:
            return [tuple(row) for row in await connection.fetch(text, *args)]
    with database.activate():
        _, rows = await database.connection.execute_query(text, args)
    return [tuple(row) for row in rows]
