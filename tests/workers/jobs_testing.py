"""Helpers of the job-queue tests: a fake hub and the two runtime modes under test (a module
name of its own, so that it never clashes with another directory's ``conftest``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from arq.connections import RedisSettings
from redis.asyncio import Redis

from medianest.sdk.errors import NotFoundError
from medianest.sdk.jobs import Job
from medianest.workers import (
    ArqJobQueue,
    InProcessJobQueue,
    ManagedJobQueue,
    RetryPolicy,
    build_worker_settings,
    run_worker,
)

FAST_RETRIES = RetryPolicy(base_seconds=0.05, max_seconds=1.0)


@dataclass(eq=False)
class FakeHub:
    """Stands in for the hub: jobs record what they did in ``calls``."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    cache: Any = None
    rate_limiter: Any = None
    pubsub: Any = None
    jobs: Any = None
    flags: Any = None

    async def emit(self, event: Any) -> None:
        self.calls.append({"event": event})

    def provider(self, provider_id: str) -> Any:
        raise NotFoundError(f"no provider {provider_id!r}")


class Runtime(Protocol):
    """One runtime mode under test: its queue, the hub jobs see, and ways to let time pass."""

    @property
    def hub(self) -> FakeHub:
        """What the jobs get as ``ctx.hub``."""

    @property
    def queue(self) -> ManagedJobQueue:
        """Where the test enqueues."""

    async def drain(self) -> None:
        """Run until nothing is queued, deferred, awaiting a retry or running."""

    async def run_for(self, seconds: float) -> None:
        """Let the runner work (cron schedules included) for ``seconds``."""


class InProcessRuntime:
    def __init__(self, jobs: Sequence[Job]) -> None:
        self.hub = FakeHub()
        self.queue = InProcessJobQueue(
            jobs, self.hub, retry_policy=FAST_RETRIES, shutdown_grace_seconds=0
        )

    async def open(self) -> None:
        await self.queue.start()

    async def drain(self) -> None:
        await asyncio.wait_for(self.queue.join(), 15)

    async def run_for(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        await self.queue.close()


class ArqRuntime:
    def __init__(self, jobs: Sequence[Job], redis_url: str, queue_name: str) -> None:
        self.hub = FakeHub()
        self.settings = build_worker_settings(
            jobs=jobs,
            redis_url=redis_url,
            on_startup=self._startup,
            queue_name=queue_name,
            handle_signals=False,
            retry_policy=FAST_RETRIES,
        )
        self.queue = ArqJobQueue(RedisSettings.from_dsn(redis_url), jobs, queue_name=queue_name)

    async def _startup(self, ctx: dict[str, Any]) -> None:
        ctx["hub"] = self.hub

    async def open(self) -> None:
        await self.queue.start()

    async def drain(self) -> None:
        await asyncio.wait_for(run_worker(self.settings, burst=True), 15)

    async def run_for(self, seconds: float) -> None:
        worker = asyncio.create_task(run_worker(self.settings))
        await asyncio.sleep(seconds)
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker

    async def close(self) -> None:
        await self.queue.close()


MakeRuntime = Callable[[Sequence[Job]], "contextlib.AbstractAsyncContextManager[Runtime]"]


async def delete_test_keys(url: str, token: str, queue_name: str) -> None:
    """Delete this test's queue, locks and ARQ job keys (and nothing else)."""
    client = Redis.from_url(url)
    try:
        keys = {queue_name.encode()}
        for pattern in (f"{queue_name}:*", f"arq:*t{token}*"):
            keys.update([key async for key in client.scan_iter(match=pattern, count=500)])
        await client.delete(*keys)
    finally:
        await client.aclose()
