"""Serving an ASGI app with hypercorn on a socket bound up front (so the port is known)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config
from hypercorn.utils import LifespanFailureError


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0 picks a free one).

    :raises OSError: the address is taken or not available.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://host:port`` for a bound socket."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def hypercorn_config(sock: socket.socket, *, graceful_timeout: float = 5) -> Config:
    """A hypercorn config serving on ``sock``, access log left to the app's own line.

    :param graceful_timeout: once stopped, how long requests in flight may finish.

    Hypercorn takes ownership of the descriptor it is given and closes it on shutdown, so it
    gets a duplicate: ``sock`` stays the caller's to close.
    """
    config = Config()
    handed_over = os.dup(sock.fileno())
    os.set_inheritable(handed_over, True)
    config.bind = [f"fd://{handed_over}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = graceful_timeout
    config.keep_alive_timeout = 75
    return config


STARTUP_ERROR = "medianest.startup_error"
"""Where an app keeps (in ``app.extensions``) the error that kept it from starting."""


async def serve_until(
    app: Any,
    sock: socket.socket,
    stop: asyncio.Event,
    *,
    on_ready: Callable[[str], Awaitable[None] | None] | None = None,
    graceful_timeout: float = 5,
) -> None:
    """Serve ``app`` on ``sock`` until ``stop`` is set; ``on_ready(url)`` once it listens.

    Once ``stop`` is set the socket stops accepting, and requests in flight have
    ``graceful_timeout`` seconds to finish.
    """
    config = hypercorn_config(sock, graceful_timeout=graceful_timeout)
    if on_ready is not None:

        async def announce() -> None:
            result = on_ready(url_of(sock))
            if asyncio.iscoroutine(result):
                await result

        # before_serving functions run in order: this one after the hub has started.
        app.before_serving(announce)
    try:
        await hypercorn_serve(app, config, shutdown_trigger=stop.wait)
    except LifespanFailureError:
        # The app could not start (the database schema is behind, a plugin's settings are
        # wrong): say why as the hub said it, not as the server's lifespan traceback.
        error = app.extensions.get(STARTUP_ERROR)
        if error is not None:
            raise error from None
        raise


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set ``stop`` on SIGINT and SIGTERM (call from inside the running loop)."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
