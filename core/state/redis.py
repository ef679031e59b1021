"""Redis cache, rate limiter and pub/sub for scaled mode (every replica shares them).

Keys and channels are namespaced by a prefix (``medianest:`` by default): ``<prefix>cache:<key>``,
``<prefix>ratelimit:<key>``, channel ``<prefix>pubsub:<channel>``, its sequence counter
``<prefix>pubsub-seq:<channel>`` and its history ``<prefix>pubsub-history:<channel>`` (a
stream). Values and messages are JSON. Connection failures that outlast the client's retries raise
:class:`~medianest.core.state.errors.StateUnavailableError`.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub as RedisPubSubConnection
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from medianest.core.backoff import RetryPolicy
from medianest.core.state.codec import decode, encode
from medianest.core.state.errors import StateUnavailableError
from medianest.core.state.history import (
    DEFAULT_HISTORY_SECONDS,
    DEFAULT_HISTORY_SIZE,
    HistoryRead,
    Sequenced,
    read_after,
)
from medianest.core.state.limits import check_hit, check_ttl
from medianest.core.state.redis_url import TLS_OPTIONS, RedisTarget, shown_url
from medianest.core.state.singleflight import SingleFlight
from medianest.sdk.services import RateLimitResult

logger = structlog.get_logger(__name__)

DEFAULT_PREFIX = "medianest:"
CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)
"""What a lost or unreachable Redis raises."""
_CONFIRM_TIMEOUT = 10.0


def safe_url(url: str) -> str:
    """``url`` without its credentials, for messages and logs."""
    if "+sentinel://" in url:
        return shown_url(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc, query="").geturl()


def connect(url: str, *, client_name: str = "medianest") -> Redis:
    """A client for ``url`` (see :mod:`medianest.core.state.redis_url` for the forms: TLS,
    Sentinel); nothing is sent until the first command.

    ``decode_responses`` is on. A command whose connection drops or times out is retried
    up to three times with back-off on a new connection; a server that refuses connections
    fails the command at once. Through Sentinel, each new connection asks the sentinels
    where the master is, so the retries of a command reach the master elected after a
    failover.

    :raises ConfigurationError: the URL is not valid (see :class:`RedisTarget`).
    """
    target = RedisTarget.parse(url)
    options: dict[str, Any] = {
        "decode_responses": True,
        "client_name": client_name,
        "socket_connect_timeout": 5,
        "socket_keepalive": True,
        "health_check_interval": 30,
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 6 if target.uses_sentinel else 3),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        **target.connection_options(),
    }
    if not target.uses_sentinel:
        client: Redis = Redis.from_url(_without_tls_options(url), **options)
        return client
    sentinel_options: dict[str, Any] = {"socket_connect_timeout": 2, "socket_timeout": 2}
    if target.sentinel_password:
        sentinel_options["password"] = target.sentinel_password
    if target.tls:
        sentinel_options.update(ssl=True, **target.connection_options())
    sentinel = Sentinel(  # type: ignore[no-untyped-call]  # untyped in redis-py
        list(target.sentinels),
        sentinel_kwargs=sentinel_options,
        ssl=target.tls,
        db=target.database,
        username=target.username,
        password=target.password,
        **options,
    )
    assert target.master is not None
    master: Redis = sentinel.master_for(target.master, redis_class=Redis)
    return master


async def close_client(client: Redis) -> None:
    """Close ``client``, and its connections to the sentinels when it found its master
    through them (redis-py leaves those open)."""
    await client.aclose()
    manager = getattr(client.connection_pool, "sentinel_manager", None)
    for sentinel in getattr(manager, "sentinels", ()):
        await sentinel.aclose()


def _without_tls_options(url: str) -> str:
    """``url`` without the ``ssl_*`` options: they are given to the client as arguments."""
    parts = urlsplit(url)
    kept = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in TLS_OPTIONS
    ]
    return parts._replace(query=urlencode(kept)).geturl()


def describe_redis_failure(exc: BaseException) -> str:
    """``exc`` as a reason, naming the setting to check when a certificate was refused."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(
            seen
        ):
            return (
                f"the server's TLS certificate was refused ({seen}); check ssl_ca_certs in "
                "redis_url (the CA that signed the server's certificate)"
            )
        seen = seen.__cause__ or seen.__context__
    return str(exc)


@contextmanager
def unavailable_as_state_error(action: str) -> Iterator[None]:
    """Turn a connection failure inside the block into :class:`StateUnavailableError`."""
    try:
        yield
    except CONNECTION_ERRORS as exc:
        raise StateUnavailableError(f"Redis {action} failed: {exc}") from exc


class RedisCache:
    """A :class:`~medianest.sdk.services.Cache` on Redis (``SET ... PX``)."""

    def __init__(self, client: Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._client = client
        self._prefix = f"{prefix}cache:"
        self._flight = SingleFlight()

    async def get(self, key: str) -> Any | None:
        """The value, or ``None`` when missing or expired."""
        with unavailable_as_state_error("cache get"):
            text = await self._client.get(self._prefix + key)
        return None if text is None else decode(text)

    async def set(self, key: str, value: Any, ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds.

        :raises TypeError: ``value`` is not JSON-able.
        :raises ValueError: ``ttl`` is not positive.
        """
        ttl_ms = check_ttl(ttl)
        text = encode(value, what=f"cache value for {key!r}")
        with unavailable_as_state_error("cache set"):
            await self._client.set(self._prefix + key, text, px=ttl_ms)

    async def delete(self, key: str) -> None:
        """Forget ``key``; no error when it is missing."""
        with unavailable_as_state_error("cache delete"):
            await self._client.delete(self._prefix + key)

    async def get_or_set(self, key: str, ttl: float, compute: Callable[[], Awaitable[Any]]) -> Any:
        """The cached value, or ``compute()``'s stored for ``ttl`` seconds.

        Concurrent callers in this process share one read and one ``compute()``; other
        replicas may compute the same key at the same time.
        """
        check_ttl(ttl)
        return await self._flight.get_or_set(self, key, ttl, compute)

    async def aclose(self) -> None:
        """Cancel computations still running for :meth:`get_or_set`."""
        await self._flight.aclose()


_HIT_SCRIPT = """
local cost = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('DEL', KEYS[1])
  if cost > limit then
    return {0, 0, 0}
  end
  redis.call('SET', KEYS[1], cost, 'PX', window)
  return {1, cost, window}
end
local used = tonumber(redis.call('GET', KEYS[1]))
if used + cost > limit then
  return {0, used, ttl}
end
return {1, redis.call('INCRBY', KEYS[1], cost), ttl}
"""
"""Atomic fixed-window hit: returns {allowed, used, milliseconds left in the window}."""


class RedisRateLimiter:
    """A fixed-window :class:`~medianest.sdk.services.RateLimiter` shared by every replica.

    A window opens with the first hit on a key and lasts ``window`` seconds; a hit that does
    not fit is refused and not counted. Each hit is one atomic Lua script.
    """

    def __init__(self, client: Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._prefix = f"{prefix}ratelimit:"
        self._client = client
        self._hit = client.register_script(_HIT_SCRIPT)

    async def hit(self, key: str, limit: int, window: float, cost: int = 1) -> RateLimitResult:
        """Count ``cost`` hits on ``key`` if they fit in ``limit`` per ``window`` seconds.

        :raises ValueError: ``limit`` negative, ``cost`` below 1 or ``window`` not positive.
        """
        window_ms = check_hit(limit, window, cost)
        with unavailable_as_state_error("rate limit hit"):
            allowed, used, left_ms = await self._hit(
                keys=[self._prefix + key], args=[cost, limit, window_ms]
            )
        return RateLimitResult(
            allowed=bool(allowed),
            limit=limit,
            remaining=max(0, limit - int(used)),
            reset_after=int(left_ms) / 1000,
        )

    async def reset(self, key: str) -> None:
        """Clear the counter for ``key``."""
        with unavailable_as_state_error("rate limit reset"):
            await self._client.delete(self._prefix + key)


class _RedisSubscription:
    """The messages of one ``subscribe()``, read on its own Redis connection.

    A lost connection is re-established with exponential back-off and the channel is
    subscribed again; messages published while it was down are lost (pub/sub is
    fire-and-forget). Iteration ends at most ``poll_interval`` seconds after the pub/sub is
    closed.
    """

    def __init__(
        self,
        owner: RedisPubSub,
        connection: RedisPubSubConnection,
        channel: str,
        *,
        sequenced: bool = False,
    ) -> None:
        self._owner = owner
        self._connection = connection
        self._channel = channel
        self._sequenced = sequenced
        self._lost = False

    def __aiter__(self) -> _RedisSubscription:
        return self

    async def __anext__(self) -> Any:
        failures = 0
        while not self._owner.closed:
            try:
                message = await self._connection.get_message(
                    ignore_subscribe_messages=True, timeout=self._owner.poll_interval
                )
            except CONNECTION_ERRORS as exc:
                if not self._lost:
                    logger.warning(
                        "pubsub connection lost, reconnecting",
                        channel=self._channel,
                        error=str(exc),
                    )
                    self._lost = True
                failures += 1
                await asyncio.sleep(self._owner.reconnect.delay(failures))
                continue
            if self._lost:
                logger.info("pubsub connection restored", channel=self._channel)
                self._lost = False
            failures = 0
            if message is None or message["type"] != "message":
                continue
            try:
                received = _unwrap(message["data"])
            except ValueError:
                logger.warning("pubsub message is not JSON, skipped", channel=self._channel)
                continue
            return received if self._sequenced else received.message
        raise StopAsyncIteration


def _unwrap(data: str) -> Sequenced:
    """A message as published: ``<id>:<JSON>`` (an id of 0 when it carries none).

    :raises ValueError: not JSON.
    """
    head, colon, rest = data.partition(":")
    if colon and head.isdigit():
        return Sequenced(int(head), decode(rest))
    return Sequenced(0, decode(data))


_PUBLISH_SCRIPT = """
local id = redis.call('INCR', KEYS[1])
local added = redis.pcall('XADD', KEYS[2], 'MAXLEN', ARGV[2], id .. '-0', 'm', ARGV[1])
if type(added) == 'table' and added.err then
  redis.call('DEL', KEYS[2])
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], id .. '-0', 'm', ARGV[1])
end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PUBLISH', KEYS[3], id .. ':' .. ARGV[1])
return id
"""
"""Atomic numbered publish: the next id of the channel, the message kept in its history
(a stream whose entry ids are ``<id>-0``, trimmed to the history size) and published as
``<id>:<JSON>``. A history whose ids run ahead of the counter (the counter was lost) starts
again."""


class RedisPubSub:
    """A :class:`~medianest.sdk.services.PubSub` on Redis channels, across every replica.

    Each ``subscribe()`` holds one Redis connection while it is entered and runs no
    background task: messages are read by the code iterating over them.

    :param poll_interval: longest wait for a message before checking whether the pub/sub was
        closed (and sending a health-check ping when one is due).
    :param reconnect_initial: first back-off after a lost connection, doubled on each failure.
    :param reconnect_max: longest back-off between reconnection attempts.
    """

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        poll_interval: float = 1.0,
        reconnect_initial: float = 0.05,
        reconnect_max: float = 5.0,
        history_size: int = DEFAULT_HISTORY_SIZE,
        history_seconds: float = DEFAULT_HISTORY_SECONDS,
    ) -> None:
        if history_size < 1:
            raise ValueError("history_size must be positive")
        self._client = client
        self._prefix = f"{prefix}pubsub:"
        self._seq_prefix = f"{prefix}pubsub-seq:"
        self._history_prefix = f"{prefix}pubsub-history:"
        self.poll_interval = poll_interval
        self.reconnect = RetryPolicy(base_seconds=reconnect_initial, max_seconds=reconnect_max)
        self.history_size = history_size
        self._history_ms = check_ttl(history_seconds)
        self._publish = client.register_script(_PUBLISH_SCRIPT)
        self.closed = False

    async def publish(self, channel: str, message: Any) -> None:
        """Send ``message`` as JSON to every subscriber of ``channel`` on every replica, with
        the channel's next sequence id, and keep it in the channel's history.

        :raises TypeError: ``message`` is not JSON-able.
        :raises StateUnavailableError: Redis cannot be reached.
        """
        text = encode(message, what=f"message for channel {channel!r}")
        with unavailable_as_state_error("publish"):
            await self._publish(
                keys=[
                    self._seq_prefix + channel,
                    self._history_prefix + channel,
                    self._prefix + channel,
                ],
                args=[text, self.history_size, self._history_ms],
            )

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[Any]]:
        """``async with pubsub.subscribe("ch") as messages: async for m in messages: ...``

        Entering returns once Redis has confirmed the subscription, so every message
        published afterwards is delivered (unless the connection is lost meanwhile).

        :raises StateUnavailableError: Redis cannot be reached when subscribing.
        :raises RuntimeError: the pub/sub is closed.
        """
        async with self._subscribed(channel, sequenced=False) as subscription:
            yield subscription

    @asynccontextmanager
    async def subscribe_sequenced(self, channel: str) -> AsyncIterator[AsyncIterator[Sequenced]]:
        """Like :meth:`subscribe`, delivering ``Sequenced(id, message)`` pairs; messages lost
        while the connection was down show as a jump in the ids (read them with
        :meth:`history`)."""
        async with self._subscribed(channel, sequenced=True) as subscription:
            yield subscription

    async def history(self, channel: str, after: int | None) -> HistoryRead:
        """The messages of ``channel`` after id ``after`` still kept (see
        :class:`~medianest.core.state.history.HistoryRead`).

        :raises StateUnavailableError: Redis cannot be reached.
        """
        with unavailable_as_state_error(f"history of {channel!r}"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.get(self._seq_prefix + channel)
                if after is not None:
                    pipe.xrange(self._history_prefix + channel, min=f"{after + 1}-0", max="+")
                answers = await pipe.execute()
        last_id = int(answers[0] or 0)
        kept = []
        if after is not None:
            for entry_id, fields in answers[1]:
                try:
                    kept.append(Sequenced(int(entry_id.partition("-")[0]), decode(fields["m"])))
                except (KeyError, ValueError):
                    logger.warning("pubsub history entry unreadable, skipped", channel=channel)
        return read_after(after, last_id, kept)

    @asynccontextmanager
    async def _subscribed(
        self, channel: str, *, sequenced: bool
    ) -> AsyncIterator[_RedisSubscription]:
        if self.closed:
            raise RuntimeError("pubsub is closed")
        key = self._prefix + channel
        connection = self._client.pubsub()
        try:
            with unavailable_as_state_error(f"subscribe to {channel!r}"):
                await connection.subscribe(key)
                await self._confirmed(connection, key)
            yield _RedisSubscription(self, connection, channel, sequenced=sequenced)
        finally:
            await connection.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py

    @staticmethod
    async def _confirmed(connection: RedisPubSubConnection, key: str) -> None:
        try:
            async with asyncio.timeout(_CONFIRM_TIMEOUT):
                while True:
                    message = await connection.get_message(timeout=1.0)
                    if message is not None and message["type"] == "subscribe":
                        if message["channel"] == key:
                            return
        except TimeoutError as exc:
            raise StateUnavailableError(
                f"Redis did not confirm the subscription to {key!r} within {_CONFIRM_TIMEOUT:g} s"
            ) from exc

    async def aclose(self) -> None:
        """End every subscriber's iteration (within ``poll_interval``); later
        ``subscribe()`` calls raise."""
        self.closed = True
