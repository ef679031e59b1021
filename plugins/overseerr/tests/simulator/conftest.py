"""Fixtures for the Overseerr simulator tests: a small world over a Plex world, served on
loopback, with every ``/api/v1`` answer checked against Overseerr's OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from ovsim_support import SpecChecker, WebhookReceiver

from medianest_overseerr.simulator import OverseerrWorld, RunningOverseerr, serve_simulator
from medianest_plex.simulator import PlexWorld

SEED = 23
PLEX_ITEMS = 400


@pytest.fixture(scope="session")
def spec_checker() -> SpecChecker:
    """openapi-core over the packaged document (parsed once per test process)."""
    return SpecChecker()


@pytest.fixture
def plex_world() -> PlexWorld:
    """The Plex world Overseerr has scanned."""
    return PlexWorld(seed=SEED, items=PLEX_ITEMS)


@pytest.fixture
def ov_world(plex_world: PlexWorld) -> OverseerrWorld:
    """Overseerr over ``plex_world``, with 60 titles only requestable."""
    return OverseerrWorld(plex_world, requestable=60, api_key="test-api-key")


@pytest.fixture
async def ov_sim(
    ov_world: OverseerrWorld, spec_checker: SpecChecker
) -> AsyncIterator[RunningOverseerr]:
    """The world served over HTTP; fails the test if any answer breaks the spec."""
    ov_world.observers.append(spec_checker.observe)
    spec_checker.reset()
    async with serve_simulator(ov_world) as running:
        yield running
        await running.control.drain_webhooks()
    spec_checker.assert_responses_valid()


@pytest.fixture
async def api(ov_sim: RunningOverseerr) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``/api/v1`` carrying the API key (acting as the admin, user 1)."""
    async with httpx.AsyncClient(
        base_url=ov_sim.api_url, headers={"X-Api-Key": ov_sim.api_key}, timeout=10
    ) as client:
        yield client


@pytest.fixture
async def control(ov_sim: RunningOverseerr) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the ``/_control`` API."""
    async with httpx.AsyncClient(base_url=ov_sim.control_url, timeout=10) as client:
        yield client


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    """A local HTTP server recording the webhooks it receives."""
    async with WebhookReceiver() as running:
        yield running


@pytest.fixture
def caplog_warnings(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Log records of warnings and above."""
    caplog.set_level("WARNING")
    yield caplog
