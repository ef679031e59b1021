"""Draining a replica that is asked to stop (SIGTERM), so that nobody notices it leave.

``medianest serve`` drains in two steps (see :func:`medianest.core.cli._hub.serve_one`):

1. **notice** (``server.drain_notice_seconds``, 0 by default): ``/health/ready`` answers 503
   at once, so a load balancer stops sending new requests, while everything still arriving
   is served as usual (a load balancer needs a moment to notice);
2. **stop**: the listening socket is closed (new connections are refused), a request that
   still arrives on an open keep-alive connection gets a 503 ``draining`` problem with
   ``Connection: close`` and ``Retry-After``, open live sockets are closed with 1012
   (service restart: reconnect at once, another replica answers), and requests in flight
   finish, for up to ``server.drain_seconds``. Then the process exits 0.
"""

from __future__ import annotations

from quart import Quart, Response, current_app, request

from medianest.core.web.problems import problem

EXTENSION = "medianest.drain"
HEALTH_LIVE = "/health/live"


class Drain:
    """Where this replica is in its drain: ``notified`` (unready) then ``stopping``."""

    def __init__(self) -> None:
        self.notified = False
        self.stopping = False

    def notify(self) -> None:
        """Report unready from now on; go on serving."""
        self.notified = True

    def stop(self) -> None:
        """Refuse requests that start from now on (requests in flight go on)."""
        self.notified = True
        self.stopping = True


def drain_of(app: Quart) -> Drain:
    """The drain state of ``app`` (see :func:`install_drain`)."""
    drain: Drain = app.extensions[EXTENSION]
    return drain


def draining() -> bool:
    """Whether the current app has been asked to stop (readiness then fails)."""
    drain: Drain | None = current_app.extensions.get(EXTENSION)
    return drain is not None and drain.notified


def install_drain(app: Quart) -> None:
    """Give ``app`` a :class:`Drain` and refuse new requests once it is stopping."""
    drain = app.extensions[EXTENSION] = Drain()

    async def refuse_while_stopping() -> Response | None:
        if not drain.stopping or request.path == HEALTH_LIVE:
            return None
        response = problem(
            503,
            "draining",
            "this replica is shutting down; send the request again (another replica answers)",
            headers={"Retry-After": "1", "Connection": "close"},
        )
        return response

    # First of all hooks: a stopping replica does no work for a new request, not even the
    # access check.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_while_stopping)
