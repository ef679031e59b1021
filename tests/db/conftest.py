"""Fixtures for the database tests: every test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``MEDIANEST_TEST_DATABASE_URL`` (default: the local server, trust auth).
Each test gets fresh databases (``CREATE DATABASE medianest_test_<random>``), dropped after it.
Without a reachable server those tests skip, except under ``CI``, where they fail.
"""

from __future__ import annotations

import os
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from medianest.core.db import Database
from medianest.core.state.memory import MemoryPubSub

DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"
TEST_DATABASE_PREFIX = "medianest_test_"

NewURL = Callable[[], Awaitable[str]]
OpenDatabase = Callable[..., Awaitable[Database]]


def postgres_url() -> str:
    """The PostgreSQL server the tests may use (its database name is not used)."""
    return os.environ.get("MEDIANEST_TEST_DATABASE_URL", DEFAULT_POSTGRES_URL)


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` on the same server."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def with_credentials(url: str, user: str, password: str) -> str:
    """``url`` signing in as ``user`` with ``password`` on the same server and database."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


_postgres_problem: list[str] = []


async def postgres_admin() -> asyncpg.Connection:
    """A connection to the server's ``postgres`` database; skips (fails in CI) when down."""
    url = with_database(postgres_url(), "postgres")
    if not _postgres_problem:
        try:
            return await asyncpg.connect(url, timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            _postgres_problem.append(f"{type(exc).__name__}: {exc}")
    reason = f"PostgreSQL is unreachable at MEDIANEST_TEST_DATABASE_URL ({_postgres_problem[0]})"
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def new_url(dialect: str, tmp_path: Path) -> AsyncIterator[NewURL]:
    """Make URLs of fresh, empty databases of the test's dialect; dropped after the test."""
    created: list[str] = []
    counter = iter(range(1_000_000))

    async def make() -> str:
        if dialect == "sqlite":
            return f"sqlite://{tmp_path / f'db{next(counter)}' / 'medianest.sqlite3'}"
        name = f"{TEST_DATABASE_PREFIX}{uuid.uuid4().hex[:16]}"
        admin = await postgres_admin()
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        created.append(name)
        return with_database(postgres_url(), name)

    try:
        yield make
    finally:
        if created:
            admin = await postgres_admin()
            try:
                for name in created:
                    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()


@pytest.fixture
async def url(new_url: NewURL) -> str:
    """A fresh, empty database of the test's dialect."""
    return await new_url()


@pytest.fixture
async def open_database() -> AsyncIterator[OpenDatabase]:
    """Open (and by default migrate) a :class:`Database`; every one is closed after the test."""
    opened: list[Database] = []

    async def open_(url: str, *, migrate: bool = True, **kwargs: object) -> Database:
        database = Database(url, **kwargs)  # type: ignore[arg-type]
        await database.open()
        opened.append(database)
        if migrate:
            await database.migrate()
        return database

    try:
        yield open_
    finally:
        for database in reversed(opened):
            await database.close()


@pytest.fixture
async def database(url: str, open_database: OpenDatabase) -> Database:
    """An open, migrated database of the test's dialect."""
    return await open_database(url)


@pytest.fixture
async def pubsub() -> AsyncIterator[MemoryPubSub]:
    """An in-process pub/sub, as replicas share Redis in scaled mode."""
    bus = MemoryPubSub()
    try:
        yield bus
    finally:
        await bus.aclose()
