"""A hub with a webhook notifier delivering to a local receiver, in both runtime modes.

In scaled mode the delivery jobs go through Redis to an ARQ worker running in this process
(:func:`worker`), as they would to a worker process.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from medianest.core.db.models import User
from medianest.sdk.access import USER_PERMISSIONS
from medianest.workers.arq_worker import build_worker_settings, run_worker
from tests.notifications.notifier import NotifierPlugin, WebhookNotifier
from tests.notifications.receiver import Receiver

KEY = "notifications-test-secret-key-0123456789"
FAST = {
    "retry_base_seconds": 0.05,
    "retry_max_seconds": 0.2,
    "lease_seconds": 1.0,
    "send_timeout_seconds": 5.0,
}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = await Receiver().start()
    try:
        yield server
    finally:
        if server.hold is not None:
            server.hold.set()
        await server.close()


@contextlib.asynccontextmanager
async def worker(hub: Any) -> AsyncIterator[asyncio.Task[Any]]:
    """An ARQ worker in this process running ``hub``'s jobs (scaled mode only)."""

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["hub"] = hub

    settings = build_worker_settings(
        jobs=hub.job_definitions,
        redis_url=hub.settings.redis_url,
        on_startup=startup,
        handle_signals=False,
        poll_delay=0.01,
        shutdown_grace_seconds=0,
    )
    task = asyncio.create_task(run_worker(settings))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


Start = Callable[..., contextlib.AbstractAsyncContextManager[Any]]


@pytest.fixture
def start_hub(medianest_hub: Any, mode: dict, receiver: Receiver) -> Start:
    """``async with start_hub(**settings) as running``: a hub of the test's mode with the
    webhook notifier (admins' channel: ``receiver.url("/admin")``), its database current,
    and a worker when scaled."""

    @contextlib.asynccontextmanager
    async def start(**settings: Any) -> AsyncIterator[Any]:
        notifications = FAST | dict(settings.pop("notifications", {}))
        plugin = NotifierPlugin(WebhookNotifier(receiver.url("/admin")))
        async with medianest_hub.run(
            {"testhook": plugin},
            **mode | {"secret_key": KEY, "notifications": notifications} | settings,
        ) as running:
            running.notifier = plugin.notifier
            with running.hub.database.activate():
                if running.hub.mode == "scaled":
                    async with worker(running.hub) as task:
                        running.worker = task
                        yield running
                else:
                    yield running

    return start


async def person(
    username: str,
    *,
    role: str = "user",
    permissions: Any = USER_PERMISSIONS,
    hub: Any = None,
    webhook: str | None = None,
) -> User:
    """A stored user; with ``webhook``, their webhook channel set (encrypted)."""
    user = await User.create(
        username=username, role=role, permissions=sorted(str(p) for p in permissions)
    )
    if webhook is not None:
        from medianest.core.notifications import channels

        await channels.save(hub.secrets, user.id, "webhook", webhook)
    return user


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10) -> None:
    """Wait until ``check()`` is true (polling), or fail naming the timeout."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {within} s")
        await asyncio.sleep(0.02)
