"""The cache, rate limiter and pub/sub of one hub, chosen by configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from redis.asyncio import Redis

from medianest.core.state.errors import StateUnavailableError
from medianest.core.state.memory import (
    DEFAULT_CACHE_MAX_BYTES,
    MemoryCache,
    MemoryPubSub,
    MemoryRateLimiter,
)
from medianest.core.state.redis import (
    CONNECTION_ERRORS,
    DEFAULT_PREFIX,
    RedisCache,
    RedisPubSub,
    RedisRateLimiter,
    close_client,
    connect,
    describe_redis_failure,
    safe_url,
)
from medianest.sdk.services import Cache, PubSub, RateLimiter


@runtime_checkable
class _Closeable(Protocol):
    async def aclose(self) -> None: ...


@dataclass(eq=False)
class StateBackends:
    """The shared-state services of one hub process.

    :param redis: the Redis client behind them in scaled mode (for other Redis-backed stores
        of core to share its connection pool), ``None`` in embedded mode.
    """

    cache: Cache
    rate_limiter: RateLimiter
    pubsub: PubSub
    redis: Redis | None = None
    redis_url: str | None = None
    """Where ``redis`` points, without credentials."""

    async def ping(self) -> None:
        """Return when the backends can serve; in-memory ones always can.

        :raises StateUnavailableError: Redis cannot be reached.
        """
        if self.redis is None:
            return
        try:
            await self.redis.ping()
        except CONNECTION_ERRORS as exc:
            raise StateUnavailableError(
                f"Redis at {self.redis_url} is unreachable: {describe_redis_failure(exc)}"
            ) from exc

    async def close(self) -> None:
        """End subscriptions, cancel pending computations and close the connections.

        Safe to call more than once.
        """
        for part in (self.pubsub, self.cache, self.rate_limiter):
            if isinstance(part, _Closeable):
                await part.aclose()
        if self.redis is not None:
            await close_client(self.redis)


async def open_state(
    redis_url: str | None,
    *,
    prefix: str = DEFAULT_PREFIX,
    client_name: str = "medianest",
    cache_max_bytes: int = DEFAULT_CACHE_MAX_BYTES,
) -> StateBackends:
    """In-process backends when ``redis_url`` is ``None``, else Redis ones, checked by a ping.

    :param prefix: namespace of every Redis key and channel.
    :param client_name: the name these connections show in Redis ``CLIENT LIST``.
    :param cache_max_bytes: the most the in-process cache holds (embedded mode; oldest
        entries go first). Redis is bounded by its own ``maxmemory``.
    :raises StateUnavailableError: Redis cannot be reached (the client is closed again).
    """
    if redis_url is None:
        return StateBackends(
            cache=MemoryCache(max_bytes=cache_max_bytes),
            rate_limiter=MemoryRateLimiter(),
            pubsub=MemoryPubSub(),
        )
    client = connect(redis_url, client_name=client_name)
    backends = StateBackends(
        cache=RedisCache(client, prefix=prefix),
        rate_limiter=RedisRateLimiter(client, prefix=prefix),
        pubsub=RedisPubSub(client, prefix=prefix),
        redis=client,
        redis_url=safe_url(redis_url),
    )
    try:
        await backends.ping()
    except BaseException:
        await backends.close()
        raise
    return backends
