"""Shared fixtures: real PostgreSQL and Redis, and the two runtime modes.

Services are found through ``MEDIANEST_TEST_DATABASE_URL`` and ``MEDIANEST_TEST_REDIS_URL``
(default: the standard local ports). Without them tests skip with a reason, except when
``CI`` is set: there a missing service is a failure.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from medianest.sdk.testing import HubHarness, RunningHub
from tests.databases import SqliteTemplate, create_migrated_postgres
from tests.services import POSTGRES_URL, REDIS_URL, SECRET_KEY, service_missing

# Hubs started by tests (in this process and the servers and workers they launch) sync
# libraries when a test asks, not on the default schedule.
os.environ.setdefault("MEDIANEST_SYNC__INCREMENTAL_MINUTES", "0")
os.environ.setdefault("MEDIANEST_SYNC__FULL_DAILY_AT", "")
# Requests are reconciled with their backends when a test asks, not every few minutes.
os.environ.setdefault("MEDIANEST_REQUESTS__RECONCILE_MINUTES", "0")


async def _postgres_admin() -> asyncpg.Connection:
    admin_url = POSTGRES_URL.rsplit("/", 1)[0] + "/postgres"
    try:
        return await asyncpg.connect(admin_url, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        service_missing("PostgreSQL", f"{type(exc).__name__}: {exc}")
        raise


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for this test (dropped afterwards).

    Tests of what happens before migrations use it; a hub that just needs its schema
    starts faster on ``migrated_postgres_url``.
    """
    name = f"medianest_test_{uuid.uuid4().hex[:12]}"
    admin = await _postgres_admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def migrated_postgres_url() -> AsyncIterator[str]:
    """A new PostgreSQL database already holding core's schema (a copy of a migrated
    template, see ``tests.databases``); dropped afterwards."""
    admin = await _postgres_admin()
    name = None
    try:
        name = await create_migrated_postgres(admin, POSTGRES_URL)
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        if name is not None:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """A Redis database emptied before and after the test."""
    client = aioredis.from_url(REDIS_URL)
    try:
        try:
            await client.ping()
        except (OSError, aioredis.RedisError) as exc:
            service_missing("Redis", f"{type(exc).__name__}: {exc}")
        await client.flushdb()
        yield REDIS_URL
        await client.flushdb()
    finally:
        await client.aclose()


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A client of the test's Redis database (see ``redis_url``)."""
    client = aioredis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture(params=["embedded", "scaled"])
def mode(request: pytest.FixtureRequest) -> dict:
    """Settings overrides for each runtime mode: SQLite in-process, or PostgreSQL + Redis."""
    if request.param == "embedded":
        return {}
    return {
        "database_url": request.getfixturevalue("migrated_postgres_url"),
        "redis_url": request.getfixturevalue("redis_url"),
        "secret_key": SECRET_KEY,
    }


@pytest.fixture(scope="session")
def sqlite_template() -> Iterator[SqliteTemplate]:
    """This test process's migrated SQLite file (see ``tests.databases``)."""
    template = SqliteTemplate()
    yield template
    template.remove()


class _MigratedHubHarness(HubHarness):
    """The test kit's harness, whose embedded hubs start on a copy of a migrated database."""

    def __init__(self, tmp_path: Path, sqlite: SqliteTemplate) -> None:
        super().__init__(tmp_path)
        self._tmp = tmp_path
        self._sqlite = sqlite
        self._started = 0

    @asynccontextmanager
    async def run(
        self,
        plugin_objects: Mapping[str, object] | None = None,
        *,
        autoload: bool = False,
        **settings: Any,
    ) -> AsyncIterator[RunningHub]:
        if not settings.get("database_url"):
            self._started += 1
            data_dir = Path(settings.get("data_dir") or self._tmp / f"hub-{self._started}")
            settings["data_dir"] = data_dir
            await self._sqlite.copy_to(data_dir)
        async with super().run(plugin_objects, autoload=autoload, **settings) as running:
            yield running


@pytest.fixture
def medianest_hub(tmp_path: Path, sqlite_template: SqliteTemplate) -> HubHarness:
    """Start real hubs (see ``medianest.sdk.testing.HubHarness``); an embedded hub starts on
    a copy of a migrated database instead of migrating a new one."""
    return _MigratedHubHarness(tmp_path, sqlite_template)


SCREENSHOTS = Path(__file__).resolve().parents[1] / "build" / "screenshots"


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_STARTED] = time.time()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Name the screenshots the browser tests saved in this run, so they can be looked at."""
    started = config.stash.get(_STARTED, None)
    if started is None or not SCREENSHOTS.is_dir():
        return
    saved = sorted(p.name for p in SCREENSHOTS.glob("*.png") if p.stat().st_mtime >= started)
    if saved:
        terminalreporter.write_sep("-", f"{len(saved)} screenshots saved in {SCREENSHOTS}")
        terminalreporter.write_line(", ".join(saved))


_STARTED = pytest.StashKey[float]()
