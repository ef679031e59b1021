"""Sources down and back: admins hear of a source whose circuit stayed open.

Every hub process running jobs listens on :data:`~medianest.sdk.events.HEALTH_CHANNEL`. When
a source's circuit opens, the first replica to hear it (an atomic counter in shared state)
records since when it is down and queues a check ``notifications.source_down_minutes`` later;
if the source is still down then, core emits ``source.down`` (routed to the admins). When the
circuit closes again after that, core emits ``source.back`` once. A circuit that opens and
closes within the delay tells nobody: a blip is not news.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

import structlog

from medianest.core.notifications.rules import SOURCE_BACK, SOURCE_DOWN
from medianest.sdk.events import HEALTH_CHANNEL
from medianest.sdk.models import DomainEvent

log = structlog.get_logger(__name__)

CHECK = "core.notifications.source_check"
_KEEP_SECONDS = 7 * 86_400.0


def _key(source: str) -> str:
    return f"notify:source-down:{source}"


class HealthWatch:
    """Turns circuit changes into ``source.down`` / ``source.back`` events (see module)."""

    def __init__(self, hub: Any) -> None:
        self._hub = hub
        self._task: asyncio.Task[None] | None = None

    @property
    def minutes(self) -> float:
        return float(self._hub.settings.notifications.source_down_minutes)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="notifications-health")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _listen(self) -> None:
        while True:
            try:
                async with self._hub.pubsub.subscribe(HEALTH_CHANNEL) as messages:
                    async for message in messages:
                        await self.changed(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # shared state away for a moment: listen again
                log.warning("health news not followed", error=str(exc))
                await asyncio.sleep(1.0)

    async def changed(self, message: Any) -> None:
        """One circuit change, as published on the health channel."""
        if not isinstance(message, dict) or not isinstance(message.get("source"), str):
            return
        source, circuit = message["source"], message.get("circuit")
        cache, limits = self._hub.cache, self._hub.rate_limiter
        if circuit == "open":
            first = await limits.hit(f"notify:source-opened:{source}", 1, 60.0 * self.minutes)
            if not first.allowed or await cache.get(_key(source)) is not None:
                return
            since = datetime.now(UTC).isoformat()
            await cache.set(
                _key(source),
                {"since": since, "told": False, "detail": str(message.get("detail") or "")},
                _KEEP_SECONDS,
            )
            await self._hub.jobs.enqueue(
                CHECK,
                source=source,
                since=since,
                job_id=f"{CHECK}:{source}:{since}",
                defer_seconds=60.0 * self.minutes,
            )
        elif circuit == "closed":
            down = await cache.get(_key(source))
            if not isinstance(down, dict):
                return
            await cache.delete(_key(source))
            await limits.reset(f"notify:source-opened:{source}")
            if not down.get("told"):
                return
            once = await limits.hit(f"notify:source-back:{source}:{down['since']}", 1, 86_400.0)
            if once.allowed:
                minutes = _minutes_since(str(down["since"]))
                await self._hub.emit(_event(SOURCE_BACK, source, minutes, ""))

    async def check(self, source: str, since: str) -> bool:
        """The delayed check: tell the admins when ``source`` is still down since ``since``."""
        down = await self._hub.cache.get(_key(source))
        if not isinstance(down, dict) or down.get("since") != since or down.get("told"):
            return False
        await self._hub.cache.set(_key(source), {**down, "told": True}, _KEEP_SECONDS)
        minutes = _minutes_since(since)
        await self._hub.emit(_event(SOURCE_DOWN, source, minutes, str(down.get("detail", ""))))
        return True


def _minutes_since(since: str) -> int:
    elapsed = datetime.now(UTC) - datetime.fromisoformat(since)
    return max(1, round(elapsed.total_seconds() / 60))


def _event(kind: str, source: str, minutes: int, detail: str) -> DomainEvent:
    return DomainEvent(
        type=kind, source="core", data={"source": source, "minutes": minutes, "detail": detail}
    )
