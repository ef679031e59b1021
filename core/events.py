"""Domain events off the request path: a buffer, batches for analytics sinks, pub/sub.

``hub.emit(event)`` puts the event in this process's :class:`EventBuffer` and returns. A
background task takes batches (``events.batch_size`` at most, a partial one after
``events.flush_seconds``) and hands each, in order, to every analytics sink concurrently, then
publishes its events on :data:`~medianest.sdk.events.EVENTS_CHANNEL`. A sink that fails (an
exception or ``events.sink_timeout_seconds``) gets the batch again with back-off, up to
``events.sink_attempts`` tries; then the batch is dropped for that sink, counted in
:attr:`EventBuffer.dropped` and the ``medianest_events_dropped_total`` metric, and logged.
Beyond ``events.max_buffered`` waiting events the oldest are dropped the same way. Closing
the buffer (when the hub stops) delivers what is still waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog

from medianest.config.settings import EventSettings
from medianest.sdk.events import EVENTS_CHANNEL
from medianest.sdk.models import DomainEvent
from medianest.sdk.providers import AnalyticsSink
from medianest.sdk.services import PubSub

log = structlog.get_logger(__name__)

Publish = Callable[[str, Any], Awaitable[None]]


class EventBuffer:
    """Buffers domain events and delivers them in batches (one per hub process).

    :param sinks: the analytics sinks, asked at each delivery.
    :param publish: publishes one message on a pub/sub channel.
    :param on_drop: called with ``(sink id or "buffer", count)`` for every dropped batch.
    """

    def __init__(
        self,
        settings: EventSettings,
        sinks: Callable[[], Sequence[AnalyticsSink]],
        publish: Publish,
        *,
        on_drop: Callable[[str, int], None] | None = None,
    ) -> None:
        self.settings = settings
        self._sinks = sinks
        self._publish = publish
        self._on_drop = on_drop
        self._pending: deque[DomainEvent] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.dropped = 0
        """Events dropped so far (per sink that did not take them, and for overflow)."""
        self.delivered = 0
        """Batches handed to every sink so far."""

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, event: DomainEvent) -> None:
        """Buffer ``event`` (never blocks, never raises for a sink's fault)."""
        self._pending.append(event)
        overflow = len(self._pending) - self.settings.max_buffered
        if overflow > 0:
            for _ in range(overflow):
                self._pending.popleft()
            self._drop("buffer", overflow, "the event buffer is full; oldest events dropped")
        if len(self._pending) >= self.settings.batch_size or self._closing:
            self._wake.set()

    def start(self) -> None:
        """Start delivering in the background (in the running event loop)."""
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run(), name="event-buffer")

    async def close(self) -> None:
        """Deliver every buffered event (with the usual tries), then stop."""
        self._closing = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            try:
                await task
            except asyncio.CancelledError:
                pass
        while self._pending:  # never started, or stopped by cancellation: deliver now
            await self._deliver(self._take())

    async def flush(self) -> None:
        """Deliver what is buffered now, in this task (tests and shutdown)."""
        while self._pending:
            await self._deliver(self._take())

    def _take(self) -> list[DomainEvent]:
        size = min(self.settings.batch_size, len(self._pending))
        return [self._pending.popleft() for _ in range(size)]

    async def _run(self) -> None:
        while True:
            if not self._pending and self._closing:
                return
            if len(self._pending) < self.settings.batch_size and not self._closing:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.flush_seconds)
            if self._pending:
                try:
                    await self._deliver(self._take())
                except Exception as exc:  # a bug here must not end delivery for good
                    log.error("event delivery failed", error=f"{type(exc).__name__}: {exc}")

    async def _deliver(self, batch: list[DomainEvent]) -> None:
        sinks = list(self._sinks())
        await asyncio.gather(*(self._to_sink(sink, batch) for sink in sinks))
        self.delivered += 1
        for event in batch:
            try:
                await self._publish(EVENTS_CHANNEL, event.model_dump(mode="json"))
            except Exception as exc:  # subscribers are best effort; sinks already have it
                log.warning("event not published", event_type=event.type, error=str(exc))
                break

    async def _to_sink(self, sink: AnalyticsSink, batch: list[DomainEvent]) -> None:
        delay = self.settings.retry_seconds
        error = ""
        for attempt in range(1, self.settings.sink_attempts + 1):
            try:
                await asyncio.wait_for(sink.record(list(batch)), self.settings.sink_timeout_seconds)
                return
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                log.warning(
                    "analytics sink failed",
                    sink=sink.id,
                    attempt=attempt,
                    events=len(batch),
                    error=error,
                )
            if attempt < self.settings.sink_attempts:
                await asyncio.sleep(delay)
                delay *= 2
        self._drop(
            sink.id,
            len(batch),
            f"analytics sink {sink.id} failed {self.settings.sink_attempts} times; batch dropped",
            error=error,
        )

    def _drop(self, where: str, count: int, message: str, **fields: Any) -> None:
        self.dropped += count
        log.error(message, sink=where, events=count, dropped_total=self.dropped, **fields)
        if self._on_drop is not None:
            self._on_drop(where, count)


PERSON_CHANNEL_PREFIX = "person:"
"""Where what is published for one person goes (the live socket's topic ``me`` reads it)."""


def person_channel(user_id: int) -> str:
    """The pub/sub channel of what is published for person ``user_id`` (topic ``me``)."""
    return f"{PERSON_CHANNEL_PREFIX}{user_id}"


async def publish_to_person(pubsub: PubSub, user_id: int, message: Any) -> None:
    """Send ``message`` to every open page of person ``user_id``, on every replica (numbered
    and kept in the person's own history, like every live message); any process may call it,
    a worker as well as a replica."""
    await pubsub.publish(person_channel(user_id), message)
