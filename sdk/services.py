"""The hub's services as plugins see them.

Core hands plugins a :class:`HubContext` (in ``startup``, in jobs, in blueprints via
``current_hub()``); the same calls work in both runtime modes: in-process in embedded mode,
on Redis in scaled mode.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from medianest.sdk.models import DomainEvent, MediaRequest, Notification


@runtime_checkable
class Cache(Protocol):
    """A key/value cache with per-key time to live. Values are JSON-able."""

    async def get(self, key: str) -> Any | None:
        """The value, or ``None`` when missing or expired."""
        ...

    async def set(self, key: str, value: Any, ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds."""
        ...

    async def delete(self, key: str) -> None:
        """Forget ``key``; no error when it is missing."""
        ...

    async def get_or_set(self, key: str, ttl: float, compute: Callable[[], Awaitable[Any]]) -> Any:
        """The cached value, or ``compute()``'s stored for ``ttl`` seconds.

        Concurrent callers in one process share one ``compute()`` (single flight).
        """
        ...


@dataclass(frozen=True, slots=True)
class RateLimitResult:
    """The outcome of one hit on a rate limit."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    """Seconds until the window has room again."""


@runtime_checkable
class RateLimiter(Protocol):
    """Counts hits per key in a fixed window shared by every replica."""

    async def hit(self, key: str, limit: int, window: float, cost: int = 1) -> RateLimitResult:
        """Count ``cost`` hits on ``key`` and say whether they fit in ``limit`` per ``window``."""
        ...

    async def reset(self, key: str) -> None:
        """Clear the counter for ``key``."""
        ...


@runtime_checkable
class PubSub(Protocol):
    """Fire-and-forget messages between every replica of the hub."""

    async def publish(self, channel: str, message: Any) -> None:
        """Send a JSON-able ``message`` to everyone subscribed to ``channel``."""
        ...

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[Any]]:
        """``async with pubsub.subscribe("ch") as messages: async for m in messages: ...``"""
        ...


@dataclass(frozen=True, slots=True)
class JobHandle:
    """What enqueueing returns: the job's id, and whether it was newly queued."""

    job_id: str
    queued: bool
    """False when a job with the same id was already queued or running (idempotency)."""


@runtime_checkable
class JobQueue(Protocol):
    """Background jobs: ARQ workers in scaled mode, an in-process runner when embedded."""

    async def enqueue(
        self,
        name: str,
        /,
        *args: Any,
        job_id: str | None = None,
        defer_seconds: float | None = None,
        **kwargs: Any,
    ) -> JobHandle:
        """Queue the registered job ``name``; a ``job_id`` already queued is not queued twice.

        :raises NotFoundError: no job of that name is registered.
        """
        ...


@runtime_checkable
class FlagReader(Protocol):
    """Runtime feature flags, toggled by admins without a restart."""

    def is_enabled(self, key: str) -> bool:
        """The flag's current value as this replica knows it (at most a second old).

        :raises NotFoundError: no flag of that key is registered.
        """
        ...


@runtime_checkable
class HubContext(Protocol):
    """What a plugin may use of the hub (read-only: plugins never replace its services)."""

    @property
    def cache(self) -> Cache: ...

    @property
    def rate_limiter(self) -> RateLimiter: ...

    @property
    def pubsub(self) -> PubSub: ...

    @property
    def jobs(self) -> JobQueue: ...

    @property
    def flags(self) -> FlagReader: ...

    async def emit(self, event: DomainEvent) -> None:
        """Record ``event``; returns at once.

        Core buffers events off the request path and hands them to analytics sinks in
        batches, then publishes each on :data:`~medianest.sdk.events.EVENTS_CHANNEL`. A sink's
        trouble never reaches the caller (batches are retried, then dropped and counted).
        """
        ...

    async def notify(self, notification: Notification) -> JobHandle:
        """Queue ``notification`` for every notifier; returns once it is queued.

        Core resolves the recipients' addresses, delivers in the background (a worker in
        scaled mode) and tries notifiers that failed again later, with back-off.
        """
        ...

    async def publish(self, channel: str, message: Any) -> None:
        """Send a JSON-able ``message`` to every subscriber of ``channel`` on every replica.

        :raises InvalidInputError: ``channel`` is one of core's own
            (:data:`~medianest.sdk.events.CORE_CHANNELS`) or not a name of lower-case
            letters, digits, ``.``, ``_`` and ``-``.
        """
        ...

    async def request_sync(self, source: str, *, full: bool = False) -> JobHandle:
        """Ask core to sync the library of the media source ``source`` soon.

        An incremental sync unless ``full`` (or the source cannot list changes). Core owns
        the jobs and their names: asking while a sync of that source is queued joins it.

        :raises NotFoundError: no media source ``source`` with the ``library`` capability.
        """
        ...

    async def request_changed(self, request: MediaRequest) -> bool:
        """Tell core that ``request`` changed on its backend's side (a webhook said so).

        Core finds its own record by ``request.backend`` and ``request.request_id``, applies
        the new status (with ``reason`` when declined), emits the matching ``request.*`` event
        and tells the people who follow the request. Returns ``False`` when core keeps no such
        request (the webhook then answers 202 and ignores it); a status core already holds is
        accepted again without a second event.
        """
        ...

    def provider(self, provider_id: str) -> Any:
        """The provider registered under ``provider_id``.

        :raises NotFoundError: no such provider.
        """
        ...
