"""Serving a simulated Overseerr over real HTTP with Hypercorn, on a loopback port.

The socket is bound here first (port 0 picks a free one) and handed to Hypercorn as
``fd://``, so the URL is known before serving starts. ``control.refuse(seconds)`` stops the
server and closes the port (clients get *connection refused*), then serves again on the same
port.

Usage::

    async with serve_simulator(plex_items=500) as sim:
        sim.url          # "http://127.0.0.1:41234" (the API is under /api/v1)
        sim.api_key
        sim.control.approve(request_id)
        sim.world.catalogue.in_plex()
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

from hypercorn.asyncio import serve
from hypercorn.config import Config

from medianest_overseerr.simulator.app import create_app
from medianest_overseerr.simulator.control import Control
from medianest_overseerr.simulator.world import OverseerrWorld
from medianest_plex.simulator import PlexWorld


@dataclass
class RunningOverseerr:
    """A served simulator: its URL and key, the world, and the control handle."""

    world: OverseerrWorld
    url: str
    control: Control

    @property
    def api_key(self) -> str:
        """The key ``X-Api-Key`` must carry."""
        return self.world.api_key

    @property
    def api_url(self) -> str:
        """``{url}/api/v1``."""
        return f"{self.url}/api/v1"

    @property
    def control_url(self) -> str:
        """``{url}/_control``."""
        return f"{self.url}/_control"

    @property
    def port(self) -> int:
        """The port served."""
        return int(self.url.rsplit(":", 1)[1])


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(256)
    sock.setblocking(False)
    return sock


class _Server:
    """One Hypercorn server over a socket that can be closed and reopened."""

    def __init__(
        self, world: OverseerrWorld, control: Control, host: str, port: int, log_level: str
    ) -> None:
        self.world = world
        self.control = control
        self.host = host
        self.port = port
        self.log_level = log_level
        self.sock: socket.socket | None = None
        self.task: asyncio.Task[None] | None = None
        self.stop: asyncio.Event | None = None

    async def start(self) -> None:
        self.sock = _bind(self.host, self.port)
        self.port = self.sock.getsockname()[1]
        app = create_app(self.world, self.control)
        ready = asyncio.Event()

        async def mark_ready() -> None:
            ready.set()

        app.before_serving(mark_ready)
        config = Config()
        config.bind = [f"fd://{os.dup(self.sock.fileno())}"]
        config.accesslog = None
        config.loglevel = self.log_level
        config.graceful_timeout = 1.0
        config.keep_alive_timeout = 5.0
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(
            serve(app, config, shutdown_trigger=self.stop.wait),
            name="overseerr-simulator",
        )
        waiter = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait({waiter, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if self.task in done:
            waiter.cancel()
            self.task.result()
            raise RuntimeError("the Overseerr simulator stopped while starting")

    async def shutdown(self) -> None:
        if self.stop is not None:
            self.stop.set()
        if self.task is not None:
            await asyncio.wait({self.task}, timeout=10)
            if not self.task.done():
                self.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self.task
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.task = None

    async def refuse(self, seconds: float) -> None:
        await self.shutdown()
        await asyncio.sleep(seconds)
        await self.start()


@contextlib.asynccontextmanager
async def serve_simulator(
    world: OverseerrWorld | None = None,
    *,
    plex: PlexWorld | None = None,
    seed: int = 1,
    plex_items: int = 1000,
    requestable: int | None = None,
    api_key: str = "overseerr-simulator-api-key",
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "WARNING",
) -> AsyncIterator[RunningOverseerr]:
    """Serve a simulated Overseerr until the block exits.

    Pass a ``world`` (or a ``plex`` world to build one over), else one is built from
    ``seed`` and ``plex_items`` — the same ids the Plex simulator gives those options.
    """
    if world is None:
        world = OverseerrWorld(
            plex, seed=seed, plex_items=plex_items, requestable=requestable, api_key=api_key
        )
    control = Control(world)
    server = _Server(world, control, host, port, log_level)
    control.refuse_hook = server.refuse
    await server.start()
    url = f"http://[{host}]:{server.port}" if ":" in host else f"http://{host}:{server.port}"
    try:
        yield RunningOverseerr(world=world, url=url, control=control)
    finally:
        world.faults.clear()  # releases requests held by hang rules
        with contextlib.suppress(Exception):
            await world.notifier.close()
        await server.shutdown()
