"""Serving a world over real HTTP with Hypercorn, on loopback ports chosen up front.

Hypercorn cannot report the port it bound for port 0, so each socket is bound here first
and handed over as ``fd://``; shutdown goes through an event (``shutdown_trigger``).

The first server's port also serves plex.tv and the ``/auth`` approval page; each further
server gets its own port. Every server's ``uri`` is set before serving starts, so
``/api/v2/resources`` lists real, reachable connections.

Usage::

    async with serve_world(PlexWorld(seed=7, items=500, servers=2)) as sim:
        sim.plextv_url        # "http://127.0.0.1:41234"
        sim.server_urls       # {"home": "http://127.0.0.1:41234", "cabin": "http://127.0.0.1:41235"}
        sim.world.owner.token
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

from medianest_plex.simulator.app import create_app
from medianest_plex.simulator.world import PlexWorld


@dataclass
class RunningSimulator:
    """A served world: its URLs, and the world itself for direct control."""

    world: PlexWorld
    plextv_url: str
    server_urls: dict[str, str]

    @property
    def auth_url(self) -> str:
        """Base of the approval page (stands in for ``https://app.plex.tv/auth``)."""
        return f"{self.plextv_url}/auth"

    @property
    def control_url(self) -> str:
        """Base of the ``/__sim`` control API."""
        return f"{self.plextv_url}/__sim"

    def url(self, server: str | int = 0) -> str:
        """The base URL of a server (by slug, machineIdentifier or index)."""
        return self.server_urls[self.world.server(server).slug]


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def serve_world(
    world: PlexWorld, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "WARNING"
) -> AsyncIterator[RunningSimulator]:
    """Serve every server of ``world`` until the block exits.

    ``port`` 0 picks free ports; otherwise servers use ``port``, ``port + 1``, ... in order.
    On exit, hanging fault rules are released and every server shuts down gracefully
    (open requests get one second).
    """
    sockets: list[socket.socket] = []
    tasks: list[asyncio.Task[None]] = []
    stops: list[asyncio.Event] = []
    urls: dict[str, str] = {}
    try:
        for index, srv in enumerate(world.servers):
            sock = _bind(host, 0 if port == 0 else port + index)
            sockets.append(sock)
            srv.uri = _url(host, sock.getsockname()[1])
            urls[srv.slug] = srv.uri
        for index, (srv, sock) in enumerate(zip(world.servers, sockets, strict=True)):
            app = create_app(world, srv, plextv=index == 0)
            ready = asyncio.Event()

            async def mark_ready(event: asyncio.Event = ready) -> None:
                event.set()

            app.before_serving(mark_ready)
            config = Config()
            # Hypercorn adopts (and later closes) the descriptor it is given: hand it a
            # duplicate so the socket object here stays valid until it is closed below.
            config.bind = [f"fd://{os.dup(sock.fileno())}"]
            config.accesslog = None
            config.loglevel = log_level
            config.graceful_timeout = 1.0
            config.keep_alive_timeout = 5.0
            stop = asyncio.Event()
            stops.append(stop)
            task = asyncio.create_task(
                serve(app, config, shutdown_trigger=stop.wait),
                name=f"plex-simulator-{srv.slug}",
            )
            tasks.append(task)
            ready_wait = asyncio.create_task(ready.wait())
            done, _ = await asyncio.wait({ready_wait, task}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                ready_wait.cancel()
                task.result()
                raise RuntimeError(f"simulated server {srv.slug} stopped while starting")
        yield RunningSimulator(world=world, plextv_url=world.servers[0].uri or "", server_urls=urls)
    finally:
        world.faults.clear()
        for stop in stops:
            stop.set()
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        for task in tasks:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for sock in sockets:
            sock.close()
        for srv in world.servers:
            srv.uri = None
