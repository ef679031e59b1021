"""Spans for SQLite statements, taken at tortoise's client.

The sqlite3 instrumentation would see the statements on aiosqlite's own thread, where the
request's span is not the current one; tortoise's client methods run in the request's task,
so the spans land inside its trace. PostgreSQL needs none of this: asyncpg is instrumented
directly.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Final

from opentelemetry.trace import SpanKind, Tracer

_METHODS: Final = (
    "execute_insert",
    "execute_many",
    "execute_query",
    "execute_query_dict",
    "execute_script",
)
_MARK: Final = "__medianest_traced__"


def instrument(tracer: Tracer) -> None:
    """Wrap the statement methods of tortoise's SQLite clients (once per process)."""
    from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionWrapper

    for cls in (SqliteClient, SqliteTransactionWrapper):
        for name in _METHODS:
            method = cls.__dict__.get(name)
            if method is None or getattr(method, _MARK, False):
                continue
            setattr(cls, name, _traced(tracer, name, method))


def uninstrument() -> None:
    """Put the original methods back."""
    from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionWrapper

    for cls in (SqliteClient, SqliteTransactionWrapper):
        for name in _METHODS:
            method = cls.__dict__.get(name)
            if method is not None and getattr(method, _MARK, False):
                setattr(cls, name, method.__wrapped__)


def _traced(
    tracer: Tracer, name: str, method: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def traced(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        statement = query.strip()
        operation = statement.split(None, 1)[0].upper() if statement else name
        with tracer.start_as_current_span(
            f"{operation} sqlite",
            kind=SpanKind.CLIENT,
            attributes={
                "db.system": "sqlite",
                "db.system.name": "sqlite",
                "db.statement": statement,
                "db.query.text": statement,
                "db.operation.name": operation,
                "db.name": str(getattr(self, "filename", "")),
            },
        ):
            return await method(self, query, *args, **kwargs)

    setattr(traced, _MARK, True)
    return traced
