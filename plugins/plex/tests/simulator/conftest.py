"""Fixtures for the Plex simulator tests: a small served world, clients and the specs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config
from openapi_core import OpenAPI
from plex_sim_specs import load_community_spec, load_pms_spec
from plex_sim_support import CLIENT_ID, JSON, Receiver
from quart import Quart, request

from medianest_plex.simulator import PlexWorld, RunningSimulator, serve_world


@pytest.fixture(scope="session")
def pms_spec() -> OpenAPI:
    """The official PMS OpenAPI document."""
    return load_pms_spec()


@pytest.fixture(scope="session")
def community_spec() -> OpenAPI:
    """The plex.tv / extra-PMS operations of the community document (see plex_sim_specs)."""
    return load_community_spec()


@pytest.fixture
def world() -> PlexWorld:
    """A small two-server world (300 leaves per server)."""
    return PlexWorld(seed=7, items=300, servers=2)


@pytest.fixture
async def sim(world: PlexWorld) -> AsyncIterator[RunningSimulator]:
    """``world`` served on loopback."""
    async with serve_world(world) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A plain client (no base URL)."""
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
async def pms(sim: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    """A JSON client of the first server, signed in as the owner."""
    headers = {**JSON, "X-Plex-Token": sim.world.owner.token, "X-Plex-Client-Identifier": CLIENT_ID}
    async with httpx.AsyncClient(base_url=sim.url(0), headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
async def plextv(sim: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    """A JSON client of the simulated plex.tv, sending a client identifier."""
    headers = {**JSON, "X-Plex-Client-Identifier": CLIENT_ID, "X-Plex-Product": "MediaNest"}
    async with httpx.AsyncClient(
        base_url=f"{sim.plextv_url}/api/v2", headers=headers, timeout=10
    ) as client:
        yield client


@pytest.fixture
async def control(sim: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the ``/__sim`` control API."""
    async with httpx.AsyncClient(base_url=sim.control_url, timeout=10) as client:
        yield client


@pytest.fixture
async def webhook_receiver() -> AsyncIterator[Receiver]:
    """A tiny HTTP endpoint on loopback recording each multipart webhook it receives."""
    app = Quart("webhook-receiver")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    receiver = Receiver(url=f"http://127.0.0.1:{sock.getsockname()[1]}/hook")

    @app.post("/hook")
    async def hook() -> tuple[str, int]:
        form = await request.form
        files = await request.files
        receiver.deliveries.append(
            {
                "content_type": request.mimetype,
                "payload": form.get("payload"),
                "files": {name: (f.filename, f.mimetype, f.read()) for name, f in files.items()},
            }
        )
        receiver.arrived.set()
        return "", 200

    config = Config()
    config.bind = [f"fd://{os.dup(sock.fileno())}"]  # Hypercorn closes what it is given
    config.accesslog = None
    config.loglevel = "WARNING"
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    try:
        yield receiver
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        sock.close()
