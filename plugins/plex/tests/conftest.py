"""Fixtures for the Plex plugin tests: a simulated Plex world served on loopback and the
plugin's runtime pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from plex_testkit import settings_for

from medianest_plex.plugin import PlexRuntime
from medianest_plex.settings import PlexSettings
from medianest_plex.simulator import PlexWorld, RunningSimulator, serve_world
from medianest_plex.source import PlexMediaSource


@pytest.fixture
def plex_world() -> PlexWorld:
    """Two servers (``home``, ``cabin``) of 120 leaves each, owned by ``owner``."""
    return PlexWorld(seed=11, items=120, servers=2)


@pytest.fixture
async def plex_sim(plex_world: PlexWorld) -> AsyncIterator[RunningSimulator]:
    """The world served over real HTTP on loopback."""
    async with serve_world(plex_world) as running:
        yield running


@pytest.fixture
def plex_settings(plex_sim: RunningSimulator) -> PlexSettings:
    """Settings pointing at the simulator (both servers)."""
    return settings_for(plex_sim)


@pytest.fixture
async def runtime(plex_settings: PlexSettings) -> AsyncIterator[PlexRuntime]:
    """The plugin's sources and plex.tv client, closed after the test."""
    built = PlexRuntime.build(plex_settings)
    try:
        yield built
    finally:
        await built.aclose()


@pytest.fixture
def home(runtime: PlexRuntime) -> PlexMediaSource:
    """The source of the first simulated server (``plex:home``)."""
    return runtime.sources[0]


@pytest.fixture
async def control(plex_sim: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the simulator's ``/__sim`` control API."""
    async with httpx.AsyncClient(base_url=plex_sim.control_url, timeout=10) as client:
        yield client
