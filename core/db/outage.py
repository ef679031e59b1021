"""Telling a database outage from a bug: the errors that mean "the database is not answering".

PostgreSQL going away surfaces from asyncpg as connection errors (refused, reset, closed
mid-query, "the database system is shutting down"); SQLite as an ``OperationalError`` saying
the file is locked past the busy timeout, unreadable or full. tortoise-orm passes most of
them through untranslated. :func:`unavailable` turns any of them into a
:class:`DatabaseUnavailableError` that core answers with 503 and ``Retry-After``; any other
error stays what it is (a bug: 500).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from types import TracebackType

import asyncpg
from tortoise.exceptions import DBConnectionError
from tortoise.exceptions import OperationalError as TortoiseOperationalError

from medianest.core.db.database import DatabaseUnavailableError

_POSTGRES_OUTAGES = (
    asyncpg.PostgresConnectionError,  # class 08: the connection failed or is gone
    asyncpg.InterfaceError,  # the connection was closed under the query
    asyncpg.exceptions.OperatorInterventionError,  # 57P0x: shutting down, starting up
    asyncpg.exceptions.InsufficientResourcesError,  # 53xxx: too many connections, disk full
    DBConnectionError,
)
_SQLITE_OUTAGES = (
    "database is locked",
    "database table is locked",
    "disk i/o error",
    "unable to open database file",
    "database or disk is full",
    "attempt to write a readonly database",
)
_DRIVER_MODULES = ("asyncpg", "tortoise", "aiosqlite")


def unavailable(error: BaseException) -> DatabaseUnavailableError | None:
    """The 503 error to answer for ``error`` when it means the database is not answering,
    else ``None``. The message names the database's kind, never its address or credentials."""
    for cause in _chain(error):
        if isinstance(cause, DatabaseUnavailableError):
            return DatabaseUnavailableError("the database is not answering; try again shortly")
        if isinstance(cause, _POSTGRES_OUTAGES) or (
            isinstance(cause, (OSError, TimeoutError)) and _raised_by_driver(cause)
        ):
            return DatabaseUnavailableError(
                "the database (PostgreSQL) is not answering; try again shortly"
            )
        if isinstance(cause, (sqlite3.OperationalError, TortoiseOperationalError)) and any(
            text in str(cause).lower() for text in _SQLITE_OUTAGES
        ):
            return DatabaseUnavailableError(
                "the database (SQLite) is busy or cannot be written; try again shortly"
            )
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _raised_by_driver(error: BaseException) -> bool:
    """Whether ``error`` came out of the database driver (a socket error there is an outage;
    elsewhere it is someone else's)."""
    traceback: TracebackType | None = error.__traceback__
    while traceback is not None:
        module = traceback.tb_frame.f_globals.get("__name__", "")
        if module.split(".", 1)[0] in _DRIVER_MODULES:
            return True
        traceback = traceback.tb_next
    return False
