"""In-process cache, rate limiter and pub/sub for embedded mode (one process, no Redis).

They behave like the Redis implementations in :mod:`medianest.core.state.redis`: values and
messages go through JSON, the rate limiter counts in fixed windows and never counts a refused
hit, and :meth:`MemoryPubSub.subscribe` delivers every message published after the ``async
with`` has been entered.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import structlog

from medianest.core.state.codec import decode, encode
from medianest.core.state.history import (
    DEFAULT_HISTORY_SIZE,
    HistoryRead,
    Sequenced,
    read_after,
)
from medianest.core.state.limits import check_hit, check_ttl
from medianest.core.state.singleflight import SingleFlight
from medianest.sdk.services import RateLimitResult

logger = structlog.get_logger(__name__)

_SWEEP_EVERY = 1024
"""Expired entries are swept out after this many writes, so memory stays bounded."""


DEFAULT_CACHE_MAX_BYTES = 32 * 1024 * 1024
"""The most a :class:`MemoryCache` holds unless told otherwise (``search.cache_max_bytes``)."""

ENTRY_OVERHEAD_BYTES = 350
"""What one entry costs besides its key and JSON text (the objects and the dict slot holding
them), counted so that many tiny entries are bounded too."""


class MemoryCache:
    """A :class:`~medianest.sdk.services.Cache` in a dict, with lazy expiry and a size bound.

    :param max_bytes: the most the entries may take, counted as the length of each key and
        of its JSON text plus :data:`ENTRY_OVERHEAD_BYTES`. Beyond it the oldest entries are
        dropped first (storing a key again makes it the newest); a value that alone exceeds
        the bound is not stored. Redis bounds itself (``maxmemory``), so this applies to
        embedded mode only.
    """

    def __init__(self, *, max_bytes: int = DEFAULT_CACHE_MAX_BYTES) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._bytes = 0
        self._writes = 0
        self._evicted = 0
        self._flight = SingleFlight()

    @property
    def size_bytes(self) -> int:
        """What the entries take now, counted as for ``max_bytes``."""
        return self._bytes

    @property
    def evicted(self) -> int:
        """How many live entries were dropped to keep within ``max_bytes`` so far."""
        return self._evicted

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> Any | None:
        """The value, or ``None`` when missing or expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, text = entry
        if expires_at <= time.monotonic():
            self._drop(key)
            return None
        return decode(text)

    async def set(self, key: str, value: Any, ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds, as the newest entry.

        :raises TypeError: ``value`` is not JSON-able.
        :raises ValueError: ``ttl`` is not positive.
        """
        ttl_ms = check_ttl(ttl)
        text = encode(value, what=f"cache value for {key!r}")
        self._drop(key)
        size = _entry_size(key, text)
        if size > self.max_bytes:
            logger.debug("cache value larger than the whole cache, not kept", key=key, size=size)
            return
        self._entries[key] = (time.monotonic() + ttl_ms / 1000, text)
        self._bytes += size
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            self._sweep()
        while self._bytes > self.max_bytes:
            oldest, (_, old_text) = self._entries.popitem(last=False)
            self._bytes -= _entry_size(oldest, old_text)
            self._evicted += 1

    async def delete(self, key: str) -> None:
        """Forget ``key``; no error when it is missing."""
        self._drop(key)

    async def get_or_set(self, key: str, ttl: float, compute: Callable[[], Awaitable[Any]]) -> Any:
        """The cached value, or ``compute()``'s stored for ``ttl`` seconds (single flight)."""
        check_ttl(ttl)
        return await self._flight.get_or_set(self, key, ttl, compute)

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= _entry_size(key, entry[1])

    def _sweep(self) -> None:
        now = time.monotonic()
        for key in [k for k, (expires_at, _) in self._entries.items() if expires_at <= now]:
            self._drop(key)

    async def aclose(self) -> None:
        """Cancel computations still running for :meth:`get_or_set` and drop every entry."""
        await self._flight.aclose()
        self._entries.clear()
        self._bytes = 0


def _entry_size(key: str, text: str) -> int:
    # JSON text is ASCII (``encode`` escapes the rest), so its length is its size in bytes;
    # keys are usually ASCII too, and counting their characters is close enough.
    return len(key) + len(text) + ENTRY_OVERHEAD_BYTES


@dataclass(slots=True)
class _Window:
    used: int
    ends_at: float


class MemoryRateLimiter:
    """A fixed-window :class:`~medianest.sdk.services.RateLimiter` for one process.

    A window opens with the first hit on a key and lasts ``window`` seconds; a hit that does
    not fit is refused and not counted.
    """

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}
        self._hits = 0

    async def hit(self, key: str, limit: int, window: float, cost: int = 1) -> RateLimitResult:
        """Count ``cost`` hits on ``key`` if they fit in ``limit`` per ``window`` seconds.

        :raises ValueError: ``limit`` negative, ``cost`` below 1 or ``window`` not positive.
        """
        window_ms = check_hit(limit, window, cost)
        now = time.monotonic()
        self._hits += 1
        if self._hits % _SWEEP_EVERY == 0:
            self._sweep(now)
        current = self._windows.get(key)
        if current is None or current.ends_at <= now:
            if cost > limit:
                return RateLimitResult(allowed=False, limit=limit, remaining=limit, reset_after=0.0)
            self._windows[key] = _Window(used=cost, ends_at=now + window_ms / 1000)
            return RateLimitResult(
                allowed=True, limit=limit, remaining=limit - cost, reset_after=window_ms / 1000
            )
        reset_after = current.ends_at - now
        if current.used + cost > limit:
            return RateLimitResult(
                allowed=False,
                limit=limit,
                remaining=max(0, limit - current.used),
                reset_after=reset_after,
            )
        current.used += cost
        return RateLimitResult(
            allowed=True, limit=limit, remaining=limit - current.used, reset_after=reset_after
        )

    async def reset(self, key: str) -> None:
        """Clear the counter for ``key``."""
        self._windows.pop(key, None)

    def _sweep(self, now: float) -> None:
        for key in [k for k, w in self._windows.items() if w.ends_at <= now]:
            del self._windows[key]


_CLOSED = object()


class _Subscription:
    """The messages of one ``subscribe()``; iteration ends when the pub/sub is closed.

    :param sequenced: deliver :class:`Sequenced` pairs rather than bare messages.
    """

    def __init__(self, channel: str, max_pending: int, *, sequenced: bool = False) -> None:
        self.channel = channel
        self.sequenced = sequenced
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=max_pending)
        self._dropped = 0

    def deliver(self, message_id: int, text: str) -> None:
        message = decode(text)
        if self._queue.full():
            self._queue.get_nowait()
            self._dropped += 1
            if self._dropped == 1:
                logger.warning(
                    "pubsub subscriber too slow, dropping its oldest messages",
                    channel=self.channel,
                    max_pending=self._queue.maxsize,
                )
        self._queue.put_nowait(Sequenced(message_id, message) if self.sequenced else message)

    def end(self) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(_CLOSED)

    def __aiter__(self) -> _Subscription:
        return self

    async def __anext__(self) -> Any:
        message = await self._queue.get()
        if message is _CLOSED:
            self._queue.put_nowait(_CLOSED)
            raise StopAsyncIteration
        return message


@dataclass(slots=True)
class _ChannelLog:
    """A channel's last sequence id and its latest messages (as JSON text)."""

    last_id: int
    kept: deque[tuple[int, str]]


class MemoryPubSub:
    """A :class:`~medianest.sdk.services.PubSub` within one process, with sequence ids and a
    bounded history per channel (:class:`~medianest.core.state.history.SequencedPubSub`).

    :param max_pending: messages kept per subscriber that has not read them yet; beyond that
        the oldest are dropped (and a warning is logged once per subscription).
    :param history_size: messages kept per channel for readers catching up (a ring buffer:
        at most this many per channel ever published on).
    """

    def __init__(
        self, *, max_pending: int = 1000, history_size: int = DEFAULT_HISTORY_SIZE
    ) -> None:
        if history_size < 1:
            raise ValueError("history_size must be positive")
        self._subscriptions: dict[str, set[_Subscription]] = {}
        self._logs: dict[str, _ChannelLog] = {}
        self._max_pending = max_pending
        self.history_size = history_size
        self._closed = False

    async def publish(self, channel: str, message: Any) -> None:
        """Send a JSON copy of ``message`` to every current subscriber of ``channel``, with
        the channel's next sequence id, and keep it in the channel's history.

        :raises TypeError: ``message`` is not JSON-able.
        """
        text = encode(message, what=f"message for channel {channel!r}")
        log = self._logs.get(channel)
        if log is None:
            log = self._logs[channel] = _ChannelLog(0, deque(maxlen=self.history_size))
        log.last_id += 1
        log.kept.append((log.last_id, text))
        for subscription in list(self._subscriptions.get(channel, ())):
            subscription.deliver(log.last_id, text)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[Any]]:
        """``async with pubsub.subscribe("ch") as messages: async for m in messages: ...``

        Messages published after entering are delivered in order. Iteration ends when the
        pub/sub is closed.

        :raises RuntimeError: the pub/sub is closed.
        """
        async with self._subscribed(channel, sequenced=False) as subscription:
            yield subscription

    @asynccontextmanager
    async def subscribe_sequenced(self, channel: str) -> AsyncIterator[AsyncIterator[Sequenced]]:
        """Like :meth:`subscribe`, delivering ``Sequenced(id, message)`` pairs."""
        async with self._subscribed(channel, sequenced=True) as subscription:
            yield subscription

    async def history(self, channel: str, after: int | None) -> HistoryRead:
        """The messages of ``channel`` after id ``after`` still kept (see
        :class:`~medianest.core.state.history.HistoryRead`)."""
        log = self._logs.get(channel)
        last_id = 0 if log is None else log.last_id
        kept = (
            []
            if log is None or after is None
            else [
                Sequenced(message_id, decode(text))
                for message_id, text in log.kept
                if message_id > after
            ]
        )
        return read_after(after, last_id, kept)

    @asynccontextmanager
    async def _subscribed(self, channel: str, *, sequenced: bool) -> AsyncIterator[_Subscription]:
        if self._closed:
            raise RuntimeError("pubsub is closed")
        subscription = _Subscription(channel, self._max_pending, sequenced=sequenced)
        self._subscriptions.setdefault(channel, set()).add(subscription)
        try:
            yield subscription
        finally:
            subscribers = self._subscriptions.get(channel)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscriptions[channel]

    async def aclose(self) -> None:
        """End every subscriber's iteration; later ``subscribe()`` calls raise."""
        self._closed = True
        for subscribers in self._subscriptions.values():
            for subscription in subscribers:
                subscription.end()
