"""Fixtures for the Overseerr plugin tests: a scripted Overseerr for unit tests, and the
simulator (over a small Plex world) served on loopback, with the plugin pointed at it
through a transport that checks every request against Overseerr's OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fake_overseerr import FakeOverseerr
from overseerr_testkit import API_KEY, SEED, SpecCheckingTransport, instance_for, person

from medianest.sdk import Permission, Principal
from medianest_overseerr.backend import OverseerrRequestBackend
from medianest_overseerr.client import OverseerrClient
from medianest_overseerr.simulator import OverseerrWorld, RunningOverseerr, serve_simulator
from medianest_overseerr.simulator.checking import SpecChecker
from medianest_overseerr.source import OverseerrMediaSource
from medianest_plex.simulator import PlexWorld


@pytest.fixture
def fake() -> FakeOverseerr:
    """A scripted Overseerr with three users (owner 1, Ann 2 with Plex id 9001, Bob 3)."""
    return FakeOverseerr()


@pytest.fixture
def overseerr_world() -> OverseerrWorld:
    """Overseerr over a 200-item Plex world, with 40 titles only requestable. Its users: the
    Plex owner (1, admin), friend1 (2, may request), a requests manager (3, local) and a
    trusted viewer (4, auto-approved); friend2 and stranger have no Overseerr user."""
    return OverseerrWorld(PlexWorld(seed=SEED, items=200), requestable=40, api_key=API_KEY)


@pytest.fixture(scope="session")
def spec_checker() -> SpecChecker:
    """The simulator's own openapi-core check of what clients send (parsed once)."""
    return SpecChecker()


@pytest.fixture
async def overseerr_sim(
    overseerr_world: OverseerrWorld, spec_checker: SpecChecker
) -> AsyncIterator[RunningOverseerr]:
    """The world served over real HTTP on loopback. Whatever reaches it (from the plugin's
    backends, sources and hubs alike) is checked against Overseerr's document too: the test
    fails if any request breaks it."""
    spec_checker.reset()
    overseerr_world.observers.append(spec_checker.check_request)
    async with serve_simulator(overseerr_world) as running:
        yield running
    spec_checker.assert_requests_valid()


@pytest.fixture
def recorder() -> SpecCheckingTransport:
    """Checks and records every request the plugin sends."""
    return SpecCheckingTransport()


@pytest.fixture
async def backend(
    overseerr_sim: RunningOverseerr, recorder: SpecCheckingTransport
) -> AsyncIterator[OverseerrRequestBackend]:
    """The request backend ``overseerr:home`` over the simulator."""
    instance = instance_for(overseerr_sim)
    made = OverseerrRequestBackend(instance, OverseerrClient(instance, transport=recorder))
    try:
        yield made
    finally:
        await made.aclose()


@pytest.fixture
async def source(
    overseerr_sim: RunningOverseerr, recorder: SpecCheckingTransport
) -> AsyncIterator[OverseerrMediaSource]:
    """The live-search source ``overseerr:home`` over the simulator."""
    instance = instance_for(overseerr_sim)
    made = OverseerrMediaSource(instance, OverseerrClient(instance, transport=recorder))
    try:
        yield made
    finally:
        await made.aclose()


@pytest.fixture
def friend(overseerr_world: OverseerrWorld) -> Principal:
    """friend1: Overseerr user 2, found by Plex id."""
    return person(overseerr_world, "friend1", 51)


@pytest.fixture
def no_account(overseerr_world: OverseerrWorld) -> Principal:
    """friend2: no Overseerr user."""
    return person(overseerr_world, "friend2", 52)


@pytest.fixture
def manager() -> Principal:
    """The requests manager, Overseerr user 3, found by email (a local Overseerr user)."""
    return Principal(
        user_id=53,
        username="manager",
        email="Requests.Manager@example.com",
        permissions=frozenset({str(Permission.REQUEST), str(Permission.MANAGE_REQUESTS)}),
    )


@asynccontextmanager
async def scaled_settings() -> AsyncIterator[dict[str, Any]]:
    """PostgreSQL (a fresh migrated database) and Redis (emptied) of the core suite's servers."""
    import asyncpg
    import redis.asyncio as aioredis

    from tests.databases import create_migrated_postgres
    from tests.services import POSTGRES_URL, REDIS_URL, SECRET_KEY

    admin = await asyncpg.connect(POSTGRES_URL.rsplit("/", 1)[0] + "/postgres", timeout=5)
    name = await create_migrated_postgres(admin, POSTGRES_URL)
    client = aioredis.from_url(REDIS_URL)
    await client.flushdb()
    try:
        yield {
            "database_url": POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}",
            "redis_url": REDIS_URL,
            "secret_key": SECRET_KEY,
        }
    finally:
        await client.flushdb()
        await client.aclose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(params=["embedded", "scaled"])
async def mode(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    """Settings overrides for each runtime mode: SQLite in-process, or PostgreSQL + Redis."""
    if request.param == "embedded":
        yield {}
        return
    async with scaled_settings() as settings:
        yield settings


@pytest.fixture
async def scaled() -> AsyncIterator[dict[str, Any]]:
    """Settings overrides of the scaled mode (replicas share its PostgreSQL and Redis)."""
    async with scaled_settings() as settings:
        yield settings
