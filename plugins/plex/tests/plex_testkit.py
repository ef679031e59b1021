"""Helpers and fakes for the Plex plugin tests: simulator control shortcuts, a helper to
serve any ASGI app on a free port, and a fake hub that records what the plugin asks of it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypercorn.asyncio import serve
from hypercorn.config import Config

from medianest.sdk import DomainEvent, JobHandle, NotFoundError, Notification, decode_cursor
from medianest_plex.settings import PlexSettings
from medianest_plex.simulator import RunningSimulator

SERVER_TIMEOUT = 1.0
"""Seconds per request in the tests: short, so a hanging server fails a test fast."""


def settings_for(sim: RunningSimulator, **overrides: Any) -> PlexSettings:
    """Plugin settings with every simulated server, read with the owner's token."""
    servers = [
        {"name": slug, "url": url, "token": sim.world.owner.token, "timeout": SERVER_TIMEOUT}
        for slug, url in sim.server_urls.items()
    ]
    values: dict[str, Any] = {
        "servers": servers,
        "plextv_url": sim.plextv_url,
        "auth_app_url": sim.auth_url,
        "plextv_timeout": SERVER_TIMEOUT,
        "page_size": 40,
        **overrides,
    }
    return PlexSettings(**values)


async def add_fault(control: httpx.AsyncClient, **rule: Any) -> None:
    """Install a fault rule through the control API."""
    response = await control.post("/faults", json=rule)
    assert response.status_code in (200, 201), response.text


async def approve(control: httpx.AsyncClient, handle: str, account: str) -> None:
    """Approve the PIN behind a sign-in handle as ``account`` (what the Plex page does)."""
    pin_id = decode_cursor(handle)["id"]
    response = await control.post(f"/pins/{pin_id}/approve", json={"account": account})
    assert response.status_code == 200, response.text


@contextlib.asynccontextmanager
async def serve_app(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with Hypercorn on a free loopback port; yields its base URL.

    The listening socket is handed to Hypercorn (``detach``), which closes it on shutdown.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    port = sock.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.accesslog = None
    config.loglevel = "WARNING"
    config.graceful_timeout = 1.0
    stop = asyncio.Event()
    trigger: Callable[[], Awaitable[None]] = stop.wait  # type: ignore[assignment]
    task = asyncio.create_task(serve(app, config, shutdown_trigger=trigger))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def closed_port_url() -> str:
    """A loopback URL where nothing listens (the port was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass
class EnqueuedJob:
    """One ``jobs.enqueue`` call."""

    name: str
    args: tuple[Any, ...]
    job_id: str | None
    kwargs: dict[str, Any]


class FakeJobs:
    """A job queue that records calls; ``registered`` names the jobs that exist."""

    def __init__(self, registered: set[str] | None = None) -> None:
        self.registered = registered if registered is not None else {"sync.incremental"}
        self.calls: list[EnqueuedJob] = []

    async def enqueue(
        self,
        name: str,
        /,
        *args: Any,
        job_id: str | None = None,
        defer_seconds: float | None = None,
        **kwargs: Any,
    ) -> JobHandle:
        self.calls.append(EnqueuedJob(name, args, job_id, kwargs))
        if name not in self.registered:
            raise NotFoundError(f"no job named {name}")
        return JobHandle(job_id=job_id or name, queued=True)


class FakeFlags:
    """Flags by key; an unknown key raises like the real reader."""

    def __init__(self, values: dict[str, bool] | None = None) -> None:
        self.values = values if values is not None else {"plex.webhooks": True}

    def is_enabled(self, key: str) -> bool:
        try:
            return self.values[key]
        except KeyError:
            raise NotFoundError(f"no flag {key}") from None


@dataclass
class FakeHub:
    """Just enough of ``HubContext`` for the Plex plugin."""

    providers: dict[str, Any] = field(default_factory=dict)
    jobs: FakeJobs = field(default_factory=FakeJobs)
    flags: FakeFlags = field(default_factory=FakeFlags)
    events: list[DomainEvent] = field(default_factory=list)
    sync_requests: list[tuple[str, bool]] = field(default_factory=list)
    syncable: set[str] | None = None
    """Sources ``request_sync`` accepts (``None``: all of them)."""
    notifications: list[Notification] = field(default_factory=list)
    published: list[tuple[str, Any]] = field(default_factory=list)
    cache: Any = None
    rate_limiter: Any = None
    pubsub: Any = None

    async def emit(self, event: DomainEvent) -> None:
        self.events.append(event)

    async def notify(self, notification: Notification) -> JobHandle:
        self.notifications.append(notification)
        return JobHandle(job_id=f"notify-{len(self.notifications)}", queued=True)

    async def publish(self, channel: str, message: Any) -> None:
        self.published.append((channel, message))

    async def request_sync(self, source: str, *, full: bool = False) -> JobHandle:
        self.sync_requests.append((source, full))
        if self.syncable is not None and source not in self.syncable:
            raise NotFoundError(f"no media source {source!r} with a library to sync")
        return JobHandle(job_id=f"sync:{source}", queued=True)

    def provider(self, provider_id: str) -> Any:
        try:
            return self.providers[provider_id]
        except KeyError:
            raise NotFoundError(f"no provider {provider_id}") from None
