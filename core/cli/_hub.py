"""Hubs the subcommands start: services only (short commands) or serving (``serve``, ``demo``)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog

from medianest.config import Settings
from medianest.core.app import create_app
from medianest.core.cli._common import listen, out
from medianest.core.hub import Hub, build_hub
from medianest.core.serving import serve_until, stop_on_signals
from medianest.core.web.drain import drain_of
from medianest.core.web.live import broker_of

log = structlog.get_logger(__name__)


@asynccontextmanager
async def services(settings: Settings, *, migrate: bool = False) -> AsyncIterator[Hub]:
    """A hub with its database, shared state and flags open (no jobs, no plugin startup)."""
    hub = build_hub(settings)
    await hub.start(migrate=migrate or settings.mode == "embedded", services_only=True)
    try:
        yield hub
    finally:
        await hub.close()


CHOOSE_ANOTHER_PORT = (
    "choose another port with --port, MEDIANEST_SERVER__PORT or `port` under [server] in the "
    "settings file"
)


async def serve_one(
    settings: Settings,
    *,
    banner: Callable[[str], list[str]] | None = None,
    choose_another: str = CHOOSE_ANOTHER_PORT,
    app_factory: Callable[[Settings], Any] = create_app,
) -> None:
    """Serve one hub until SIGINT/SIGTERM; once it listens, print where and ``banner(url)``.

    A signal drains the replica (see :mod:`medianest.core.web.drain`): readiness fails at
    once, new connections are refused after ``server.drain_notice_seconds``, live sockets
    are told to reconnect elsewhere (1012), and requests in flight get up to
    ``server.drain_seconds`` to finish; then this returns.

    :param choose_another: how to pick another port, said when the address is taken.
    :param app_factory: builds the app from the settings (tests add routes to it).
    :raises ConfigurationError: the address cannot be listened on.
    """

    def ready(url: str) -> None:
        out.print(f"MediaNest is serving on [bold]{url}[/] ({settings.mode} mode)", markup=True)
        for line in banner(url) if banner is not None else []:
            out.print(line, markup=False, soft_wrap=True)

    with listen(settings.server.host, settings.server.port, choose_another=choose_another) as sock:
        app = app_factory(settings)
        signalled = asyncio.Event()
        stop = asyncio.Event()
        stop_on_signals(signalled)
        drainer = asyncio.create_task(
            drain_when(signalled, app, sock, stop, notice=settings.server.drain_notice_seconds)
        )
        try:
            await serve_until(
                app, sock, stop, on_ready=ready, graceful_timeout=settings.server.drain_seconds
            )
        finally:
            drainer.cancel()


async def drain_when(
    signalled: asyncio.Event,
    app: Any,
    sock: socket.socket,
    stop: asyncio.Event,
    *,
    notice: float,
) -> None:
    """Once ``signalled``: report unready, wait ``notice`` seconds, then stop accepting on
    ``sock``, close live sockets with 1012 and set ``stop`` (requests in flight go on)."""
    await signalled.wait()
    drain = drain_of(app)
    drain.notify()
    log.info("draining: readiness fails from now on", notice_seconds=notice)
    if notice > 0:
        await asyncio.sleep(notice)
    drain.stop()
    broker_of(app).drain()
    stop.set()
    sock.close()  # hypercorn closes its own copy: together, new connections are refused
    log.info("draining: no longer accepting; requests in flight are finishing")
