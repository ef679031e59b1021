"""Fixtures for the library sync tests: two simulated Plex servers on loopback and a hub
synced from them, in embedded mode (SQLite) and scaled mode (PostgreSQL + Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from medianest.sdk.testing import HubHarness, RunningHub
from medianest_plex import plugin
from medianest_plex.simulator import PlexWorld, RunningSimulator, serve_world
from tests.sync.fake_source import FakeLibrary, FakePlugin

SYNC_SETTINGS: dict[str, Any] = {
    "page_size": 50,
    "batch_size": 120,
    "page_retries": 3,
    "retry_base_seconds": 0.01,
    "lease_seconds": 5,
    "page_timeout_seconds": 5,
}
"""Small pages and batches, so even a small library takes several of each; quick retries."""


@pytest.fixture
def plex_world() -> PlexWorld:
    """Two servers (``home``, ``cabin``) of 150 leaves each."""
    return PlexWorld(seed=5, items=150, servers=2)


@pytest.fixture
async def plex_sim(plex_world: PlexWorld) -> AsyncIterator[RunningSimulator]:
    async with serve_world(plex_world) as running:
        yield running


def plex_section(sim: RunningSimulator, **overrides: Any) -> dict[str, Any]:
    """The Plex plugin's settings for every simulated server."""
    return {
        "servers": [
            {"name": slug, "url": url, "token": sim.world.owner.token, "timeout": 1.0}
            for slug, url in sim.server_urls.items()
        ],
        "plextv_url": sim.plextv_url,
        "auth_app_url": sim.auth_url,
        "page_size": 40,
        **overrides,
    }


@pytest.fixture
async def sync_hub(
    medianest_hub: HubHarness, plex_sim: RunningSimulator, mode: dict
) -> AsyncIterator[RunningHub]:
    """A hub with both simulated servers as media sources, its database active in the test."""
    async with medianest_hub.run(
        {"plex": plugin}, plugins={"plex": plex_section(plex_sim)}, sync=SYNC_SETTINGS, **mode
    ) as running:
        with running.hub.database.activate():
            yield running


@pytest.fixture
def fake_library() -> FakeLibrary:
    """500 films in memory: ten pages of the test page size, four batches."""
    return FakeLibrary("fake", 500)


@pytest.fixture
async def fake_hub(
    medianest_hub: HubHarness, fake_library: FakeLibrary, mode: dict
) -> AsyncIterator[RunningHub]:
    """A hub whose one media source is ``fake_library``, its database active in the test."""
    async with medianest_hub.run(
        {"fake": FakePlugin(fake_library)}, sync=SYNC_SETTINGS, **mode
    ) as running:
        with running.hub.database.activate():
            yield running
