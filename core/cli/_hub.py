"""Hubs the subcommands start: services only (short commands) or serving (``serve``, ``demo``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from medianest.config import Settings
from medianest.core.app import create_app
from medianest.core.cli._common import listen, out
from medianest.core.hub import Hub, build_hub
from medianest.core.serving import serve_until, stop_on_signals


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
) -> None:
    """Serve one hub until SIGINT/SIGTERM; once it listens, print where and ``banner(url)``.

    :param choose_another: how to pick another port, said when the address is taken.
    :raises ConfigurationError: the address cannot be listened on.
    """

    def ready(url: str) -> None:
        out.print(f"MediaNest is serving on [bold]{url}[/] ({settings.mode} mode)", markup=True)
        for line in banner(url) if banner is not None else []:
            out.print(line, markup=False, soft_wrap=True)

    with listen(settings.server.host, settings.server.port, choose_another=choose_another) as sock:
        app = create_app(settings)
        stop = asyncio.Event()
        stop_on_signals(stop)
        await serve_until(app, sock, stop, on_ready=ready)
