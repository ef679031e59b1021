"""Shared fixtures: real PostgreSQL and Redis, and the two runtime modes.

Services are found through ``MEDIANEST_TEST_DATABASE_URL`` and ``MEDIANEST_TEST_REDIS_URL``
(default: the standard local ports). Without them tests skip with a reason, except when
``CI`` is set: there a missing service is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import redis.asyncio as aioredis

from tests.services import POSTGRES_URL, REDIS_URL, SECRET_KEY, service_missing

# Hubs started by tests (in this process and the servers and workers they launch) sync
# libraries when a test asks, not on the default schedule.
os.environ.setdefault("MEDIANEST_SYNC__INCREMENTAL_MINUTES", "0")
os.environ.setdefault("MEDIANEST_SYNC__FULL_DAILY_AT", "")


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for this test (dropped afterwards)."""
    name = f"medianest_test_{uuid.uuid4().hex[:12]}"
    admin_url = POSTGRES_URL.rsplit("/", 1)[0] + "/postgres"
    try:
        admin = await asyncpg.connect(admin_url, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        service_missing("PostgreSQL", f"{type(exc).__name__}: {exc}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
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
        "database_url": request.getfixturevalue("postgres_url"),
        "redis_url": request.getfixturevalue("redis_url"),
        "secret_key": SECRET_KEY,
    }
